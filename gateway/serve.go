package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse/gateway/edge"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
	"github.com/gatehouse/gatehouse/gateway/ratelimit"
	"github.com/gatehouse/gatehouse/internal/spans"
)

// The reverse proxy's side of the request pipeline: ServeHTTP runs the
// decision core (Evaluate, gateway/pipeline/evaluate.go), answers a refused
// request and forwards an allowed one (proxy.go); the recorder keeps the
// status for the audit line and metrics.

// logShape says what a decision asked of the answer and the gateway
// refused (once per request, with the request id).
func (s *Server) logShape(ev *pipeline.Evaluation, rid string) {
	if len(ev.Shape.Refused) > 0 {
		s.log.Warn("policy response shaping refused", "request_id", rid, "refused", strings.Join(ev.Shape.Refused, "; "))
	}
}

// ServeHTTP is the request pipeline: route, authenticate, decide, then deny
// or forward. See docs/architecture.md, "The request's path".
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	gen, held := s.acquire()
	defer release(gen, held) // deferred first: runs after finish
	rec := &recorder{ResponseWriter: w, status: http.StatusOK, requestID: requestID(r)}
	var span trace.Span
	if s.tracer != nil {
		r, span = s.serverSpan(r, r.Method)
	}
	// An HTTP/1 upgrade request ends inspection of its connection
	// (gateway/edge/framing.go): unless the upgrade happens, the connection closes.
	rec.closeUnlessSwitching = r.ProtoMajor == 1 && len(r.Header["Upgrade"]) > 0
	ev := gen.Evaluate(r, rec.requestID, start)
	ev.Span = span
	r = ev.Request
	defer s.finish(rec, gen, ev, start)
	if ev.Op != nil && !ev.Op.Public {
		s.metrics.AuthnSeconds.Observe(ev.AuthnTime.Seconds())
	}
	if ev.Decision != nil || ev.Reason == pipeline.ReasonPolicyError {
		s.metrics.PolicySeconds.Observe(ev.PolicyTime.Seconds())
	}
	if ev.Failure != nil {
		s.log.Error("request failed closed", "request_id", rec.requestID, "reason", ev.Reason, "error", ev.Failure.Error())
	}
	if ev.Op != nil && ev.Op.API.CORS != nil {
		if origin := r.Header.Get("Origin"); ev.Op.API.CORS.Allows(origin) {
			cors := ev.Op.API.CORS
			rec.onHeader = func(h http.Header) { cors.SetOrigin(h, origin) }
		}
	}
	if ev.Preflight != nil {
		for k, v := range ev.Preflight {
			rec.Header()[k] = v
		}
		rec.WriteHeader(http.StatusNoContent)
		return
	}
	s.logShape(ev, rec.requestID)
	if ev.Status != 0 {
		// The policy's response headers first: the gateway's own
		// (Retry-After, challenges, the problem's) are set over them.
		ev.Shape.ApplyResponseHeaders(rec.Header())
		if ev.Status == http.StatusServiceUnavailable {
			rec.Header().Set("Retry-After", "5")
		}
		if ev.Status == http.StatusTooManyRequests {
			rec.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetrySeconds(ev.RetryAfter)))
		}
		title := ""
		if ev.Reason == "token_in_query" {
			ev.Op.SetInvalidRequest(rec.Header())
		}
		if ev.Decision != nil {
			ev.Op.SetChallenges(rec.Header(), ev.Decision, ev.Reason, ev.Answer)
			title = ev.Answer.Title
		}
		if ev.ShapedDenial(ev.Status) {
			pipeline.SetJSONHeaders(rec.Header(), len(ev.Shape.Body))
			rec.WriteHeader(ev.Status)
			_, _ = rec.Write(ev.Shape.Body)
			return
		}
		pipeline.WriteProblem(rec, ev.Status, title, rec.requestID)
		return
	}
	if len(ev.Shape.ResponseHeaders) > 0 {
		// On the upstream's response, replacing its values; CORS after.
		sh, cors := ev.Shape, rec.onHeader
		rec.onHeader = func(h http.Header) {
			sh.ApplyResponseHeaders(h)
			if cors != nil {
				cors(h)
			}
		}
	}

	op := ev.Op
	if err := gen.DecideUpstream(ev); err != nil {
		s.log.Error("cannot sign identity assertion", "request_id", rec.requestID, "error", err.Error())
		pipeline.WriteProblem(rec, http.StatusInternalServerError, "", rec.requestID)
		return
	}
	f := &forward{
		op:   op,
		path: strings.TrimPrefix(r.URL.Path, op.API.BasePath),
		up:   ev.Upstream,
	}
	if len(gen.CredHeaders) > 0 {
		f.strip = gen.Headers
	}
	if f.path == "" {
		f.path = "/"
	}
	if r.Context().Err() != nil {
		// The client reset the stream (HTTP/2 RST_STREAM) or went away
		// while the request was decided: no upstream request is started
		// for it (gateway/edge/h2conn.go bounds how often it may do so).
		rec.status = 499
		return
	}
	edge.LimitBody(rec, r, gen.Config.Limits.BodyLimit(op.API.Config.MaxBodyBytes))
	edge.FilterUpgrade(r, op.API.Config.WebSockets)
	if span != nil {
		var up trace.Span
		f.trace, up = spans.StartClient(r.Context(), "upstream")
		defer endUpstreamSpan(up, op, rec)
	}
	serveProxy(rec, r, f, op.API.Transport, s.proxyErrorHandler)
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
	// closeUnlessSwitching: answer with Connection: close unless 101.
	closeUnlessSwitching bool
	// onHeader edits the response headers just before they are written
	// (CORS headers over the upstream's).
	onHeader func(http.Header)
}

func (r *recorder) WriteHeader(code int) {
	if r.onHeader != nil && code >= 200 {
		r.onHeader(r.Header())
		r.onHeader = nil
	}
	if r.closeUnlessSwitching && code >= 200 {
		r.Header().Set("Connection", "close")
	}
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
