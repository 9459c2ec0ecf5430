package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/bundles"
)

// ServeHTTP is the request pipeline: route, authenticate, decide, then deny
// or forward. See DESIGN.md, "The shape, in one picture".
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	gen := s.gen.Load()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK, requestID: requestID(r)}
	ev := auditEvent{start: start, requestID: rec.requestID, method: r.Method, gen: gen}
	defer func() { s.finish(rec, &ev) }()

	// Identity headers are never the client's to send, on any route.
	stripIdentityHeaders(r.Header, gen.Config.UpstreamIdentity.Header)

	if reason := unsafePath(r); reason != "" {
		ev.reasons = []string{reason}
		writeProblem(rec, http.StatusBadRequest, "", rec.requestID)
		return
	}
	op, err := gen.match(r)
	if err != nil {
		status := http.StatusNotFound
		if errors.Is(err, errMethodNotAllowed) {
			status = http.StatusMethodNotAllowed
		}
		writeProblem(rec, status, "", rec.requestID)
		return
	}
	ev.op = op

	in := policyInput{
		requestID: rec.requestID,
		r:         r,
		path:      r.URL.Path,
		clientIP:  clientIP(r),
		op:        op,
		now:       start,
	}
	if !op.Public {
		authStart := time.Now()
		for i, a := range op.authenticators {
			name := op.Schemes[i]
			id, err := a.Authenticate(r)
			switch {
			case err == nil:
				in.names = append(in.names, name)
				in.creds = append(in.creds, id)
				ev.outcomes = append(ev.outcomes, outcome{scheme: name, result: "verified", credentialID: id.CredentialID})
			case errors.Is(err, authn.ErrNoCredentials):
				// Not presented: another alternative may still be satisfied.
			default:
				rej, ok := authn.AsRejection(err)
				if !ok {
					// Technical failure (key set or key manager unreachable):
					// fail closed, never fall through to another scheme.
					ev.outcomes = append(ev.outcomes, outcome{scheme: name, result: "error"})
					ev.reasons = []string{"authentication_unavailable"}
					s.log.Error("authenticator failed", "request_id", rec.requestID, "scheme", name, "error", err.Error())
					rec.Header().Set("Retry-After", "5")
					writeProblem(rec, http.StatusServiceUnavailable, "", rec.requestID)
					return
				}
				in.rejNames = append(in.rejNames, name)
				in.rejections = append(in.rejections, rej)
				ev.outcomes = append(ev.outcomes, outcome{scheme: name, result: string(rej.Reason)})
			}
		}
		s.metrics.authnSeconds.Observe(time.Since(authStart).Seconds())
	}

	policyStart := time.Now()
	d, err := gen.Engine.Decide(r.Context(), in.value())
	s.metrics.policySeconds.Observe(time.Since(policyStart).Seconds())
	if err != nil {
		ev.reasons = []string{"policy_error"}
		status := http.StatusInternalServerError
		s.log.Error("policy evaluation failed", "request_id", rec.requestID, "error", err.Error(),
			"deadline", errors.Is(err, bundles.ErrDeadline))
		writeProblem(rec, status, "", rec.requestID)
		return
	}
	ev.decision = d
	if !d.Allow {
		reason, dn := pickDenial(d)
		ev.reasons = d.Reasons
		setChallenges(rec.Header(), op, d, reason, dn)
		writeProblem(rec, dn.status, dn.title, rec.requestID)
		return
	}

	f := &forward{
		op:        op,
		path:      strings.TrimPrefix(r.URL.Path, op.api.BasePath),
		requestID: rec.requestID,
		header:    gen.Config.UpstreamIdentity.Header,
		extra:     d.Headers,
	}
	if f.path == "" {
		f.path = "/"
	}
	f.stripAuthz = hasAuthorizationScheme(op)
	if s.asserter != nil && !op.Public {
		ids := satisfiedIdentities(d, in.names, in.creds)
		tok, err := s.asserter.Assertion(op, ids)
		if err != nil {
			ev.reasons = []string{"assertion_failed"}
			s.log.Error("cannot sign identity assertion", "request_id", rec.requestID, "error", err.Error())
			writeProblem(rec, http.StatusInternalServerError, "", rec.requestID)
			return
		}
		f.assertion = tok
	}
	ev.forwarded = true
	serveProxy(rec, r, f, op.api.transport, s.proxyErrorHandler)
}

// hasAuthorizationScheme reports whether any scheme of the operation reads
// the Authorization header, which is then never forwarded.
func hasAuthorizationScheme(op *compiledOp) bool {
	for _, name := range op.Schemes {
		switch op.api.Schemes[name].Type {
		case "http", "oauth2", "openIdConnect":
			return true
		}
	}
	return false
}

// satisfiedIdentities returns the identities of the alternative the policy
// said was satisfied, in scheme order.
func satisfiedIdentities(d *bundles.Decision, names []string, ids []*authn.Identity) []*authn.Identity {
	out := make([]*authn.Identity, 0, len(d.Schemes))
	for _, want := range d.Schemes {
		for i, n := range names {
			if n == want {
				out = append(out, ids[i])
			}
		}
	}
	return out
}

// unsafePath rejects request targets whose meaning depends on who decodes
// them: encoded separators and NULs, backslashes, and dot segments or empty
// segments that a later hop might normalize differently. One path, one
// decision: what is authorized is exactly what is forwarded.
func unsafePath(r *http.Request) string {
	p := r.URL.Path
	if p == "" || p[0] != '/' {
		return "path_not_absolute"
	}
	if raw := r.URL.RawPath; raw != "" {
		lower := strings.ToLower(raw)
		if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(lower, "%00") {
			return "encoded_separator"
		}
	}
	if strings.ContainsAny(p, "\\\x00") {
		return "ambiguous_path"
	}
	if strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..") {
		return "dot_segment"
	}
	return ""
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

var (
	ridPrefix  = newRIDPrefix()
	ridCounter atomic.Uint64
)

func newRIDPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestID keeps a well-formed inbound X-Request-Id (for end-to-end
// correlation) and otherwise makes one: a per-process random prefix and a
// counter, unique without a syscall per request.
func requestID(r *http.Request) string {
	if v := r.Header.Get("X-Request-Id"); v != "" && len(v) <= 128 && validRequestID(v) {
		return v
	}
	return ridPrefix + "-" + strconv.FormatUint(ridCounter.Add(1), 36)
}

func validRequestID(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// recorder captures the status for audit and metrics and carries the request
// id to the proxy error handler. Unwrap keeps http.ResponseController (and so
// flushing, hijacking for upgrades, deadlines) working through it.
type recorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	requestID   string
	bytes       int64
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status = code
		r.wroteHeader = code >= 200
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush lets streaming responses through.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		r.wroteHeader = true
		f.Flush()
	}
}

func requestIDFrom(w http.ResponseWriter) string {
	if rec, ok := w.(*recorder); ok {
		return rec.requestID
	}
	return ""
}
