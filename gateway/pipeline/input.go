package pipeline

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse/gatehouse/authn"
)

// The policy input is built directly as an OPA ast.Value: no JSON round trip
// on the hot path. The parts that depend only on configuration (api,
// operation, schemes) are built once per generation; identities carry their
// own once-built value. schemas/input.schema.json is the contract.

// Interned keys, so building an input allocates values, not key strings.
var (
	kTime        = ast.StringTerm("time")
	kRequest     = ast.StringTerm("request")
	kAPI         = ast.StringTerm("api")
	kOperation   = ast.StringTerm("operation")
	kSchemes     = ast.StringTerm("schemes")
	kCredentials = ast.StringTerm("credentials")
	kRejections  = ast.StringTerm("rejections")
	kID          = ast.StringTerm("id")
	kMethod      = ast.StringTerm("method")
	kPath        = ast.StringTerm("path")
	kHost        = ast.StringTerm("host")
	kScheme      = ast.StringTerm("scheme")
	kClientIP    = ast.StringTerm("client_ip")
	kHeaders     = ast.StringTerm("headers")
	kReason      = ast.StringTerm("reason")
	kType        = ast.StringTerm("type")
	vHTTPS       = ast.StringTerm("https")
	vHTTP        = ast.StringTerm("http")
	// emptyObject stands for no credentials / no rejections. Input values
	// are never mutated by evaluation, so one instance serves every request
	// (as the per-generation api and operation values do).
	emptyObject = ast.NewTerm(ast.NewObject())
)

// Interned values of common methods and header names: building the input
// then allocates neither a lowercased copy nor a term for them.
var (
	methodTerms     = internedTerms(http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions)
	headerNameTerms = func() map[string]*ast.Term {
		m := map[string]*ast.Term{}
		for _, n := range []string{
			"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Cache-Control", "Connection",
			"Content-Encoding", "Content-Length", "Content-Type", "Forwarded", "If-Match", "If-Modified-Since",
			"If-None-Match", "Origin", "Pragma", "Referer", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site",
			"Te", "Traceparent", "Tracestate", "User-Agent", "Via", "X-Forwarded-For", "X-Forwarded-Host",
			"X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id", "X-Correlation-Id", "X-Api-Version",
		} {
			m[n] = ast.StringTerm(strings.ToLower(n))
		}
		return m
	}()
)

func internedTerms(vals ...string) map[string]*ast.Term {
	m := make(map[string]*ast.Term, len(vals))
	for _, v := range vals {
		m[v] = ast.StringTerm(v)
	}
	return m
}

func termOf(interned map[string]*ast.Term, s string) *ast.Term {
	if t, ok := interned[s]; ok {
		return t
	}
	return ast.StringTerm(s)
}

// OpInput is what the decision core prepares once per operation of a
// generation: the parts of the policy input that depend only on
// configuration, and the request headers that carry the operation's
// credentials (they never reach the input).
type OpInput struct {
	// API, Operation and Schemes are input.api, input.operation and
	// input.schemes.
	API, Operation, Schemes *ast.Term
	// SecretHeaders are canonical header names that carry credentials.
	SecretHeaders map[string]struct{}
	// NumSchemes is how many schemes the operation names (the decision
	// cache keys on one slot per scheme).
	NumSchemes int
	// StripQuery are the API-key query parameters (never in input.request.query).
	StripQuery []string
	// PathParams locate the template's {parameters} in a request path of
	// PathSegs segments (input_request.go).
	PathParams []PathParam
	PathSegs   int
	// ReadsBody: the operation opts in to input.request.body (body.go);
	// its decisions are never cached.
	ReadsBody bool
}

// Input holds the per-request parts of the policy input.
type Input struct {
	RequestID string
	Request   *http.Request
	// Path is the normalized path.
	Path     string
	ClientIP string
	Op       *OpInput
	Outcomes Outcomes
	Now      time.Time
	// Body is input.request.body (nil: absent).
	Body ast.Value
}

// Value builds the policy input document (schemas/input.schema.json).
func (in *Input) Value() ast.Value {
	scheme := vHTTP
	if in.Request.TLS != nil {
		scheme = vHTTPS
	}
	req := ast.NewObject(
		[2]*ast.Term{kID, ast.StringTerm(in.RequestID)},
		[2]*ast.Term{kMethod, termOf(methodTerms, in.Request.Method)},
		[2]*ast.Term{kPath, ast.StringTerm(in.Path)},
		[2]*ast.Term{kHost, ast.StringTerm(in.Request.Host)},
		[2]*ast.Term{kScheme, scheme},
		[2]*ast.Term{kClientIP, ast.StringTerm(in.ClientIP)},
		[2]*ast.Term{kHeaders, ast.NewTerm(in.Op.headersValue(in.Request.Header))},
		[2]*ast.Term{kQuery, in.Op.queryValue(rawQuery(in.Request))},
		[2]*ast.Term{kPathParams, in.Op.pathParamsValue(in.Path)},
	)
	if cc := clientCertValue(in.Request); cc != nil {
		req.Insert(kClientCert, cc)
	}
	if b := in.bodyTerm(); b != nil {
		req.Insert(kBody, b)
	}
	return ast.NewObject(
		[2]*ast.Term{kTime, ast.IntNumberTerm(int(in.Now.UnixNano()))},
		[2]*ast.Term{kRequest, ast.NewTerm(req)},
		[2]*ast.Term{kAPI, in.Op.API},
		[2]*ast.Term{kOperation, in.Op.Operation},
		[2]*ast.Term{kSchemes, in.Op.Schemes},
		[2]*ast.Term{kCredentials, in.credentialsTerm()},
		[2]*ast.Term{kRejections, in.rejectionsTerm()},
	)
}

// KeyedValue is the policy input reduced to what a decision cache key
// covers (api, operation, schemes, credentials, rejections and
// request.client_certificate: the paths of bundles/cacheable.go). An
// engine whose policy reads nothing else (bundles.Engine.Cacheable) decides
// the same on it as on Value, so a decision the cache missed skips building
// the request's headers, query, path parameters and the rest (about 40 of a
// first-seen request's allocations, gateway BenchmarkPipeline). Decision
// logs and explain still get the whole input from Value.
func (in *Input) KeyedValue() ast.Value {
	req := emptyObject
	if cc := clientCertValue(in.Request); cc != nil {
		req = ast.ObjectTerm([2]*ast.Term{kClientCert, cc})
	}
	return ast.NewObject(
		[2]*ast.Term{kRequest, req},
		[2]*ast.Term{kAPI, in.Op.API},
		[2]*ast.Term{kOperation, in.Op.Operation},
		[2]*ast.Term{kSchemes, in.Op.Schemes},
		[2]*ast.Term{kCredentials, in.credentialsTerm()},
		[2]*ast.Term{kRejections, in.rejectionsTerm()},
	)
}

// credentialsTerm is input.credentials: each verified scheme's identity.
func (in *Input) credentialsTerm() *ast.Term {
	nv := in.Outcomes.Verified()
	if nv == 0 {
		return emptyObject
	}
	obj := ast.NewObjectWithCapacity(nv)
	for _, o := range in.Outcomes {
		if o.Identity != nil {
			obj.Insert(ast.StringTerm(o.Scheme), ast.NewTerm(o.Identity.AST()))
		}
	}
	return ast.NewTerm(obj)
}

// rejectionsTerm is input.rejections: each rejected scheme's reason.
func (in *Input) rejectionsTerm() *ast.Term {
	nr := in.Outcomes.Rejected()
	if nr == 0 {
		return emptyObject
	}
	obj := ast.NewObjectWithCapacity(nr)
	for _, o := range in.Outcomes {
		if o.Rejection != nil {
			obj.Insert(ast.StringTerm(o.Scheme), ast.ObjectTerm(
				[2]*ast.Term{kReason, ast.StringTerm(string(o.Rejection.Reason))},
			))
		}
	}
	return ast.NewTerm(obj)
}

// headersValue renders request headers for the policy, lowercased, first
// value only, without anything that carries a credential.
func (op *OpInput) headersValue(h http.Header) ast.Value {
	obj := ast.NewObjectWithCapacity(len(h))
	for name, vals := range h {
		if len(vals) == 0 {
			continue
		}
		if _, secret := op.SecretHeaders[name]; secret {
			continue
		}
		key, ok := headerNameTerms[name]
		if !ok {
			key = ast.StringTerm(strings.ToLower(name))
		}
		obj.Insert(key, ast.StringTerm(vals[0]))
	}
	return obj
}

var (
	kClientCert = ast.StringTerm("client_certificate")
	kX5t        = ast.StringTerm("x5t_s256")
	kFP         = ast.StringTerm("fingerprint_sha256")
	kForwarded  = ast.StringTerm("forwarded")
)

// clientCertValue is input.request.client_certificate: the thumbprint of
// the certificate the client presented (verified or not: RFC 8705 binding
// needs possession, which the handshake or the trusted proxy proved), nil
// when there is none.
func clientCertValue(r *http.Request) *ast.Term {
	chain, viaProxy := authn.ClientCertificates(r)
	if len(chain) == 0 {
		return nil
	}
	sum := sha256.Sum256(chain[0].Raw)
	return ast.ObjectTerm(
		[2]*ast.Term{kX5t, ast.StringTerm(base64.RawURLEncoding.EncodeToString(sum[:]))},
		[2]*ast.Term{kFP, ast.StringTerm(hex.EncodeToString(sum[:]))},
		[2]*ast.Term{kForwarded, ast.BooleanTerm(viaProxy)},
	)
}
