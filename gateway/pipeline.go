package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/edge"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
	"github.com/gatehouse/gatehouse/gateway/ratelimit"
	"github.com/gatehouse/gatehouse/internal/spans"
)

// Evaluation is what the gateway decided about one request, up to but not
// including forwarding it. The pipeline acts on it; `gatehouse explain`
// prints it.
type Evaluation struct {
	RequestID string
	Method    string
	Path      string
	Op        *compiledOp
	// Status is the answer when the request is not forwarded (0 when allowed).
	Status int
	// Reason is the governing reason of a denial or failure.
	Reason pipeline.Reason
	// Outcomes are the verified and the presented-but-invalid credentials,
	// by scheme, in the operation's scheme order.
	Outcomes pipeline.Outcomes
	outBuf   [pipeline.MaxKeySchemes]pipeline.Outcome
	// Preflight holds the headers of a CORS preflight answer (gateway/edge/cors.go).
	Preflight http.Header
	// RetryAfter is when a rate-limited client may try again.
	RetryAfter time.Duration
	// Failure is a technical failure (authenticator or policy).
	Failure  error
	Decision *bundles.Decision
	// CachedDecision: the decision came from the generation's decision
	// cache; no input was built and no Rego ran for this request.
	CachedDecision bool
	AuthnTime      time.Duration
	PolicyTime     time.Duration
	answer         pipeline.Answer
	in             pipeline.Input
	input          ast.Value

	// Request is the request as evaluated (it may carry a forwarded client
	// certificate in its context); forward this one.
	Request *http.Request

	// span is the request's server span; nil with tracing off
	// (server_tracing.go). frontDoor: the span is a front door's
	// authorization, not a proxied request.
	span      trace.Span
	frontDoor bool
}

// Input returns the policy input of the request, building it if the
// decision came from cache (decision logs and explain need it; the hot path
// does not). Nil when the request never reached the policy.
func (e *Evaluation) Input() ast.Value {
	if e.input == nil && e.in.Op != nil {
		e.input = e.in.Value()
	}
	return e.input
}

// Operation returns the matched operation, or nil.
func (e *Evaluation) Operation() *Operation {
	if e.Op == nil {
		return nil
	}
	return e.Op.Operation
}

// refuse ends the evaluation with reason, answered as the reasons table
// says.
func (e *Evaluation) refuse(reason pipeline.Reason) {
	e.Status, e.Reason = pipeline.AnswerOf(reason).Status, reason
}

// Evaluate routes, authenticates and decides one request. It strips client
// identity headers from r in place (they are never the client's to send) and
// calls no upstream.
func (g *Generation) Evaluate(r *http.Request, requestID string, now time.Time, opts ...rego.EvalOption) *Evaluation {
	ev := &Evaluation{RequestID: requestID, Method: r.Method, Path: r.URL.Path}
	r = g.prepareRequest(r) // before the strip: reads a trusted proxy's certificate header
	ev.Request = r
	var rs ratelimit.State
	if g.rate != nil {
		rs = g.rate.State(r) // before the strip: reads a trusted proxy's X-Forwarded-For
	}
	g.headers.Strip(r.Header, g.credHeaders)
	edge.StripMethodOverrides(r.Header)

	// One path, one decision (gateway/edge/normalize.go): route, policy and upstream all
	// see this path.
	path, depth, err := edge.RequestPath(r)
	if err == nil && g.escapesBase(path, depth) {
		err = edge.ErrTraversal
	}
	if err != nil {
		ev.refuse(pipeline.Reason(edge.PathReason(err)))
		return ev
	}
	r.URL.Path, r.URL.RawPath, ev.Path = path, "", path
	if edge.IsPreflight(r) {
		if api := g.corsAPI(path); api != nil {
			ev.refuse(pipeline.ReasonCORSRejected)
			if ev.Preflight = g.preflight(r, api); ev.Preflight != nil {
				ev.refuse(pipeline.ReasonCORSPreflight)
			}
			return ev
		}
	}
	traced := trace.SpanFromContext(r.Context()).IsRecording()
	var sp trace.Span
	if traced {
		_, sp = spans.Start(r.Context(), "route")
	}
	op, err := g.match(r)
	if traced {
		endRouteSpan(sp, op, err)
	}
	if err != nil {
		ev.refuse(pipeline.ReasonNoRoute)
		if errors.Is(err, errMethodNotAllowed) {
			ev.refuse(pipeline.ReasonMethodNotAllowed)
		}
		return ev
	}
	ev.Op = op
	if op.mtls && misdirected(r) {
		ev.refuse(pipeline.ReasonMisdirected)
		return ev
	}

	if g.rate != nil {
		// Stage 1 looks before any verification; finish charges the
		// buckets, and applies the plan's limit to an allow.
		defer finishRate(r.Context(), g.rate, ev, &rs)
		if status, retry := g.rate.Before(r.Context(), r, op.Public, op.apiKeyHeaders, &rs); status != 0 {
			ev.refuse(pipeline.ReasonRateLimited)
			ev.RetryAfter = retry
			return ev
		}
	}
	if status, reason := g.checkLimits(r, op); status != 0 {
		ev.refuse(pipeline.Reason(reason))
		return ev
	}
	if op.noQueryToken && r.URL.RawQuery != "" && edge.HasQueryToken(r.URL.RawQuery) {
		ev.Status, ev.Reason = http.StatusBadRequest, "token_in_query"
		return ev
	}

	in := pipeline.Input{RequestID: requestID, Request: r, Path: r.URL.Path, ClientIP: clientIP(r), Op: &op.core, Now: now}
	// The outcomes live in the evaluation (no allocation for operations of
	// up to pipeline.MaxKeySchemes schemes).
	ev.Outcomes = ev.outBuf[:0]
	if !op.Public {
		authStart := time.Now()
		for i, a := range op.authenticators {
			name := op.Schemes[i]
			ar := r
			if traced {
				ar, sp = authnSpan(r, name)
			}
			id, err := a.Authenticate(ar)
			if traced {
				endAuthnSpan(sp, err)
			}
			switch {
			case err == nil:
				ev.Outcomes = append(ev.Outcomes, pipeline.Outcome{Scheme: name, Identity: id, Position: i})
			case errors.Is(err, authn.ErrNoCredentials):
				// Not presented: another alternative may still be satisfied.
			default:
				rej, ok := authn.AsRejection(err)
				if !ok {
					// Technical failure (key set or key manager unreachable):
					// fail closed, never fall through to another scheme.
					ev.refuse(pipeline.ReasonAuthnUnavailable)
					ev.Failure = fmt.Errorf("scheme %s: %w", name, err)
					ev.AuthnTime = time.Since(authStart)
					return ev
				}
				ev.Outcomes = append(ev.Outcomes, pipeline.Outcome{Scheme: name, Rejection: rej, Position: i})
			}
		}
		ev.AuthnTime = time.Since(authStart)
	}
	in.Outcomes = ev.Outcomes
	if op.core.ReadsBody {
		// After authentication: the body is read only for requests that
		// got this far, and at most the policy body limit of it.
		body, reason, err := pipeline.ReadBody(r, g.Config.Limits.PolicyBodyLimit(op.api.Config.MaxBodyBytes))
		if reason != "" {
			ev.refuse(reason)
			ev.Failure = err
			return ev
		}
		in.Body = body
	}

	ev.in = in

	policyStart := time.Now()
	pctx := r.Context()
	if traced {
		pctx, sp = spans.Start(pctx, "policy")
	}
	// The decision cache is bypassed when evaluation options are given
	// (explain's tracer must see a real evaluation).
	var key pipeline.Key
	cacheable := false
	if g.decisions != nil && len(opts) == 0 {
		key, cacheable = g.decisions.Key(r, &op.core, ev.Outcomes)
	}
	var d *bundles.Decision
	hit := false
	if cacheable {
		d, hit = g.decisions.Get(key)
	}
	if !hit {
		var err error
		d, err = g.Engine.Decide(pctx, ev.Input(), opts...)
		if err != nil {
			if traced {
				endPolicySpan(sp, nil, false)
			}
			ev.PolicyTime = time.Since(policyStart)
			ev.refuse(pipeline.ReasonPolicyError)
			ev.Failure = err
			return ev
		}
		if cacheable {
			g.decisions.Put(key, d)
		}
	}
	ev.PolicyTime = time.Since(policyStart)
	if traced {
		endPolicySpan(sp, d, hit)
	}
	ev.Decision, ev.CachedDecision = d, hit
	if !d.Allow {
		ev.Reason, ev.answer = pipeline.PickDenial(d)
		ev.Status = ev.answer.Status
	}
	return ev
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
	ev.span = span
	r = ev.Request
	defer s.finish(rec, gen, ev, start)
	if ev.Op != nil && !ev.Op.Public {
		s.metrics.authnSeconds.Observe(ev.AuthnTime.Seconds())
	}
	if ev.Decision != nil || ev.Reason == pipeline.ReasonPolicyError {
		s.metrics.policySeconds.Observe(ev.PolicyTime.Seconds())
	}
	if ev.Failure != nil {
		s.log.Error("request failed closed", "request_id", rec.requestID, "reason", ev.Reason, "error", ev.Failure.Error())
	}
	if ev.Op != nil && ev.Op.api.cors != nil {
		if origin := r.Header.Get("Origin"); ev.Op.api.cors.Allows(origin) {
			cors := ev.Op.api.cors
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
	if ev.Status != 0 {
		if ev.Status == http.StatusServiceUnavailable {
			rec.Header().Set("Retry-After", "5")
		}
		if ev.Status == http.StatusTooManyRequests {
			rec.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetrySeconds(ev.RetryAfter)))
		}
		title := ""
		if ev.Reason == "token_in_query" {
			setInvalidRequest(rec.Header(), ev.Op)
		}
		if ev.Decision != nil {
			setChallenges(rec.Header(), ev.Op, ev.Decision, ev.Reason, ev.answer)
			title = ev.answer.Title
		}
		writeProblem(rec, ev.Status, title, rec.requestID)
		return
	}

	op, d := ev.Op, ev.Decision
	f := &forward{
		op:         op,
		path:       strings.TrimPrefix(r.URL.Path, op.api.BasePath),
		requestID:  rec.requestID,
		header:     gen.Config.UpstreamIdentity.Header,
		extra:      d.Headers,
		stripAuthz: op.readsAuthorization,
	}
	if len(gen.credHeaders) > 0 {
		f.strip = gen.headers
	}
	if f.path == "" {
		f.path = "/"
	}
	var satisfied []*authn.Identity
	if !op.Public {
		satisfied = satisfiedIdentities(d, ev.Outcomes)
	}
	if h := gen.Config.MTLS.UpstreamHeader; h != "" {
		f.xfccHeader = h
		if !op.Public {
			f.xfcc = upstreamXFCC(satisfied)
		}
	}
	if gen.asserter != nil && !op.Public {
		tok, err := gen.asserter.Assertion(gen.assertions, &op.assert, satisfied)
		if err != nil {
			ev.refuse(pipeline.ReasonAssertionFailed)
			s.log.Error("cannot sign identity assertion", "request_id", rec.requestID, "error", err.Error())
			writeProblem(rec, http.StatusInternalServerError, "", rec.requestID)
			return
		}
		f.assertion = tok
	}
	if r.Context().Err() != nil {
		// The client reset the stream (HTTP/2 RST_STREAM) or went away
		// while the request was decided: no upstream request is started
		// for it (gateway/edge/h2conn.go bounds how often it may do so).
		rec.status = 499
		return
	}
	edge.LimitBody(rec, r, gen.Config.Limits.BodyLimit(op.api.Config.MaxBodyBytes))
	edge.FilterUpgrade(r, op.api.Config.WebSockets)
	if span != nil {
		var up trace.Span
		f.trace, up = spans.StartClient(r.Context(), "upstream")
		defer endUpstreamSpan(up, op, rec)
	}
	serveProxy(rec, r, f, op.api.transport, s.proxyErrorHandler)
}

// finishRate applies the plan's limit to an allowed request (stage 2), then
// charges stage 1's buckets for what the request turned out to be.
func finishRate(ctx context.Context, l *ratelimit.Limits, ev *Evaluation, st *ratelimit.State) {
	if ev.Status == 0 && ev.Decision != nil && ev.Decision.Allow && ev.Op != nil {
		if status, retry := l.Plan(ctx, ev.Op.api.Name, ev.Op.api.Version, ev.Decision.Principal); status != 0 {
			ev.refuse(pipeline.ReasonRateLimited)
			ev.RetryAfter = retry
			return
		}
	}
	if ev.Failure != nil || ev.Status == http.StatusTooManyRequests {
		return
	}
	verified, rejected := ev.Outcomes.Verified(), ev.Outcomes.Rejected()
	authenticated := ev.Decision != nil && ev.Decision.Allow && verified > 0 && rejected == 0
	l.Charge(ctx, st, authenticated, rejected > 0)
}

// satisfiedIdentities returns the identities of the alternative the policy
// said was satisfied, in scheme order.
func satisfiedIdentities(d *bundles.Decision, outcomes pipeline.Outcomes) []*authn.Identity {
	out := make([]*authn.Identity, 0, len(d.Schemes))
	for _, want := range d.Schemes {
		for _, o := range outcomes {
			if o.Identity != nil && o.Scheme == want {
				out = append(out, o.Identity)
			}
		}
	}
	return out
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
