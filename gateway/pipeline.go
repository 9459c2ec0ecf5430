package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
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
	// Shape is what the decision asks of the answer beyond allow or deny
	// (response headers, request headers to remove, a denial's body),
	// validated once; the proxy and the front doors apply this value.
	Shape pipeline.Shape
	in    pipeline.Input
	input ast.Value

	// Upstream is what an allowed request becomes upstream (upstream.go);
	// nil until decided, and for a refused request.
	Upstream *pipeline.Upstream

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
	r = g.fwd.Prepare(r) // before the strip: reads a trusted proxy's certificate header
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
	if op.mtls && pipeline.Misdirected(r) {
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
	ev.Shape = pipeline.ShapeOf(d, ev.Reason, g.Config.UpstreamIdentity.Header, g.Config.MTLS.UpstreamHeader)
	return ev
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

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
