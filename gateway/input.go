package gateway

import (
	"net/http"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse/gatehouse/gateway/pipeline"
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

// policyInput holds the per-request parts the pipeline has gathered.
type policyInput struct {
	requestID string
	r         *http.Request
	path      string
	clientIP  string
	op        *compiledOp
	outcomes  pipeline.Outcomes
	now       time.Time
}

func (in *policyInput) value() ast.Value {
	scheme := vHTTP
	if in.r.TLS != nil {
		scheme = vHTTPS
	}
	req := ast.NewObject(
		[2]*ast.Term{kID, ast.StringTerm(in.requestID)},
		[2]*ast.Term{kMethod, termOf(methodTerms, in.r.Method)},
		[2]*ast.Term{kPath, ast.StringTerm(in.path)},
		[2]*ast.Term{kHost, ast.StringTerm(in.r.Host)},
		[2]*ast.Term{kScheme, scheme},
		[2]*ast.Term{kClientIP, ast.StringTerm(in.clientIP)},
		[2]*ast.Term{kHeaders, ast.NewTerm(in.op.headersValue(in.r.Header))},
		[2]*ast.Term{kQuery, in.op.queryValue(rawQuery(in.r))},
		[2]*ast.Term{kPathParams, in.op.pathParamsValue(in.path)},
	)
	if cc := clientCertValue(in.r); cc != nil {
		req.Insert(kClientCert, cc)
	}
	creds, rej := emptyObject, emptyObject
	if nv := in.outcomes.Verified(); nv > 0 {
		obj := ast.NewObjectWithCapacity(nv)
		for _, o := range in.outcomes {
			if o.Identity != nil {
				obj.Insert(ast.StringTerm(o.Scheme), ast.NewTerm(o.Identity.AST()))
			}
		}
		creds = ast.NewTerm(obj)
	}
	if nr := in.outcomes.Rejected(); nr > 0 {
		obj := ast.NewObjectWithCapacity(nr)
		for _, o := range in.outcomes {
			if o.Rejection != nil {
				obj.Insert(ast.StringTerm(o.Scheme), ast.ObjectTerm(
					[2]*ast.Term{kReason, ast.StringTerm(string(o.Rejection.Reason))},
				))
			}
		}
		rej = ast.NewTerm(obj)
	}
	return ast.NewObject(
		[2]*ast.Term{kTime, ast.IntNumberTerm(int(in.now.UnixNano()))},
		[2]*ast.Term{kRequest, ast.NewTerm(req)},
		[2]*ast.Term{kAPI, in.op.api.astAPI},
		[2]*ast.Term{kOperation, in.op.astOp},
		[2]*ast.Term{kSchemes, in.op.astSchemes},
		[2]*ast.Term{kCredentials, creds},
		[2]*ast.Term{kRejections, rej},
	)
}

// headersValue renders request headers for the policy, lowercased, first
// value only, without anything that carries a credential.
func (op *compiledOp) headersValue(h http.Header) ast.Value {
	obj := ast.NewObjectWithCapacity(len(h))
	for name, vals := range h {
		if len(vals) == 0 {
			continue
		}
		if _, secret := op.secretHeaders[name]; secret {
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

// Values built once per generation.

func apiValue(api *API) *ast.Term {
	return ast.ObjectTerm(
		[2]*ast.Term{ast.StringTerm("name"), ast.StringTerm(api.Name)},
		[2]*ast.Term{ast.StringTerm("version"), ast.StringTerm(api.Version)},
		[2]*ast.Term{ast.StringTerm("base_path"), ast.StringTerm(api.BasePath)},
	)
}

func operationValue(op *Operation) *ast.Term {
	alts := make([]*ast.Term, 0, len(op.Security))
	for _, alt := range op.Security {
		obj := ast.NewObject()
		for _, s := range alt {
			scopes := make([]*ast.Term, len(s.Scopes))
			for i, sc := range s.Scopes {
				scopes[i] = ast.StringTerm(sc)
			}
			obj.Insert(ast.StringTerm(s.Scheme), ast.ArrayTerm(scopes...))
		}
		alts = append(alts, ast.NewTerm(obj))
	}
	return ast.ObjectTerm(
		[2]*ast.Term{ast.StringTerm("id"), ast.StringTerm(op.ID)},
		[2]*ast.Term{ast.StringTerm("method"), ast.StringTerm(op.Method)},
		[2]*ast.Term{ast.StringTerm("path"), ast.StringTerm(op.Path)},
		[2]*ast.Term{ast.StringTerm("public"), ast.BooleanTerm(op.Public)},
		[2]*ast.Term{ast.StringTerm("security"), ast.ArrayTerm(alts...)},
		[2]*ast.Term{ast.StringTerm("scope_mode"), ast.StringTerm(op.API.ScopeMode)},
	)
}

func schemesValue(op *Operation) *ast.Term {
	obj := ast.NewObject()
	for _, name := range op.Schemes {
		def := op.API.Schemes[name]
		fields := [][2]*ast.Term{{kType, ast.StringTerm(def.Type)}}
		if def.HTTPScheme != "" {
			fields = append(fields, [2]*ast.Term{kScheme, ast.StringTerm(def.HTTPScheme)})
		}
		if def.In != "" {
			fields = append(fields, [2]*ast.Term{ast.StringTerm("in"), ast.StringTerm(def.In)})
		}
		obj.Insert(ast.StringTerm(name), ast.ObjectTerm(fields...))
	}
	return ast.NewTerm(obj)
}
