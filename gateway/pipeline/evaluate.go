package pipeline

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
	"github.com/gatehouse/gatehouse/gateway/openapi"
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
	Op        *Op
	// Status is the answer when the request is not forwarded (0 when allowed).
	Status int
	// Reason is the governing reason of a denial or failure.
	Reason Reason
	// Outcomes are the verified and the presented-but-invalid credentials,
	// by scheme, in the operation's scheme order.
	Outcomes Outcomes
	outBuf   [MaxKeySchemes]Outcome
	// Preflight holds the headers of a CORS preflight answer (gateway/edge/cors.go).
	Preflight http.Header
	// RetryAfter is when a rate-limited client may try again.
	RetryAfter time.Duration
	// Failure is a technical failure (authenticator or policy).
	Failure error
	// AssertionFailure is why the identity assertion of an allowed
	// request could not be signed (Reason assertion_failed, status 500):
	// logged, never answered.
	AssertionFailure error
	Decision         *bundles.Decision
	// CachedDecision: the decision came from the generation's decision
	// cache; no input was built and no Rego ran for this request.
	CachedDecision bool
	AuthnTime      time.Duration
	PolicyTime     time.Duration
	// Answer is the reasons table's row for a policy denial (reasons.go).
	Answer Answer
	// Shape is what the decision asks of the answer beyond allow or deny
	// (response headers, request headers to remove, a denial's body),
	// validated once; the proxy and the front doors apply this value.
	Shape Shape
	in    Input
	input ast.Value
	// principalOf is the identity whose document is the principal of a
	// decision the cache shares (cache_shared.go); nil otherwise.
	principalOf *authn.Identity

	// Upstream is what an allowed request becomes upstream (upstream.go);
	// nil until decided, and for a refused request.
	Upstream *Upstream

	// Request is the request as evaluated (it may carry a forwarded client
	// certificate in its context); forward this one.
	Request *http.Request

	// Span is the request's server span; nil with tracing off
	// (gateway/server_tracing.go). FrontDoor: the span is a front door's
	// authorization, not a proxied request.
	Span      trace.Span
	FrontDoor bool
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

// policyInput is the input a decision without evaluation options is made
// on: the keyed input (Input.KeyedValue) when the engine's policy reads
// nothing else (bundles.Engine.Cacheable, decided once per engine build),
// otherwise the whole input, which is then kept for the decision log.
// Evaluation options (explain's tracer) always get the whole input.
func (e *Evaluation) policyInput(eng *bundles.Engine) ast.Value {
	if keyed, _ := eng.Cacheable(); keyed {
		return e.in.KeyedValue()
	}
	return e.Input()
}

// Operation returns the matched operation, or nil.
func (e *Evaluation) Operation() *openapi.Operation {
	if e.Op == nil {
		return nil
	}
	return e.Op.Operation
}

// Refuse ends the evaluation with reason, answered as the reasons table
// says.
func (e *Evaluation) Refuse(reason Reason) {
	e.Status, e.Reason = AnswerOf(reason).Status, reason
}

// ShapedDenial reports whether the answer to a refused request is the
// policy's own body: a custom denial that gave one, answered with the
// decision's status (not a later refusal, such as the plan's rate limit).
func (ev *Evaluation) ShapedDenial(status int) bool {
	return ev.Decision != nil && !ev.Decision.Allow && ev.Shape.Body != nil && status == ev.Answer.Status
}

// Evaluate routes, authenticates and decides one request and, for an
// allowed one, decides what it becomes upstream with its signed identity
// assertion (ev.Upstream, upstream.go). The reverse proxy, the front doors
// and `gatehouse explain` all call it, so they answer alike — an assertion
// that cannot be signed is a 500 (assertion_failed) for each of them. It
// strips client identity headers from r in place (they are never the
// client's to send) and calls no upstream.
func (c *Core) Evaluate(r *http.Request, requestID string, now time.Time, opts ...rego.EvalOption) *Evaluation {
	ev := c.evaluate(r, requestID, now, opts...)
	if ev.Status == 0 {
		// After the plan's rate limit (finishRate): a request it refuses
		// gets no assertion.
		ev.AssertionFailure = c.decideUpstream(ev)
	}
	return ev
}

// evaluate is Evaluate up to the decision.
func (c *Core) evaluate(r *http.Request, requestID string, now time.Time, opts ...rego.EvalOption) *Evaluation {
	ev := &Evaluation{RequestID: requestID, Method: r.Method, Path: r.URL.Path}
	r = c.Forwarded.Prepare(r) // before the strip: reads a trusted proxy's certificate header
	ev.Request = r
	var rs ratelimit.State
	if c.Rate != nil {
		rs = c.Rate.State(r) // before the strip: reads a trusted proxy's X-Forwarded-For
	}
	c.Headers.Strip(r.Header, c.CredHeaders)
	edge.StripMethodOverrides(r.Header)

	// One path, one decision (gateway/edge/normalize.go): route, policy and upstream all
	// see this path.
	path, depth, err := edge.RequestPath(r)
	if err == nil && c.escapesBase(path, depth) {
		err = edge.ErrTraversal
	}
	if err != nil {
		ev.Refuse(Reason(edge.PathReason(err)))
		return ev
	}
	r.URL.Path, r.URL.RawPath, ev.Path = path, "", path
	if edge.IsPreflight(r) {
		if api := c.corsAPI(path); api != nil {
			ev.Refuse(ReasonCORSRejected)
			if ev.Preflight = c.preflight(r, api); ev.Preflight != nil {
				ev.Refuse(ReasonCORSPreflight)
			}
			return ev
		}
	}
	traced := trace.SpanFromContext(r.Context()).IsRecording()
	var sp trace.Span
	if traced {
		_, sp = spans.Start(r.Context(), "route")
	}
	op, err := c.Routes.Match(r)
	if traced {
		endRouteSpan(sp, op, err)
	}
	if err != nil {
		ev.Refuse(ReasonNoRoute)
		if errors.Is(err, ErrMethodNotAllowed) {
			ev.Refuse(ReasonMethodNotAllowed)
		}
		return ev
	}
	ev.Op = op
	if op.mtls && Misdirected(r) {
		ev.Refuse(ReasonMisdirected)
		return ev
	}

	if c.Rate != nil {
		// Stage 1 looks before any verification; finish charges the
		// buckets, and applies the plan's limit to an allow.
		defer finishRate(r.Context(), c.Rate, ev, &rs)
		if status, retry := c.Rate.Before(r.Context(), r, op.Public, op.APIKeyHeaders, &rs); status != 0 {
			ev.Refuse(ReasonRateLimited)
			ev.RetryAfter = retry
			return ev
		}
	}
	if status, reason := c.checkLimits(r, op); status != 0 {
		ev.Refuse(Reason(reason))
		return ev
	}
	if op.noQueryToken && r.URL.RawQuery != "" && edge.HasQueryToken(r.URL.RawQuery) {
		ev.Refuse(ReasonTokenInQuery)
		return ev
	}

	in := Input{RequestID: requestID, Request: r, Path: r.URL.Path, ClientIP: ClientIP(r), Op: &op.Input, Now: now}
	// The outcomes live in the evaluation (no allocation for operations of
	// up to MaxKeySchemes schemes).
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
				ev.Outcomes = append(ev.Outcomes, Outcome{Scheme: name, Identity: id, Position: i})
			case errors.Is(err, authn.ErrNoCredentials):
				// Not presented: another alternative may still be satisfied.
			default:
				rej, ok := authn.AsRejection(err)
				if !ok {
					// Technical failure (key set or key manager unreachable):
					// fail closed, never fall through to another scheme.
					ev.Refuse(ReasonAuthnUnavailable)
					ev.Failure = fmt.Errorf("scheme %s: %w", name, err)
					ev.AuthnTime = time.Since(authStart)
					return ev
				}
				ev.Outcomes = append(ev.Outcomes, Outcome{Scheme: name, Rejection: rej, Position: i})
			}
		}
		ev.AuthnTime = time.Since(authStart)
	}
	in.Outcomes = ev.Outcomes
	if op.Input.ReadsBody {
		// After authentication: the body is read only for requests that
		// got this far, and at most the policy body limit of it.
		body, reason, err := ReadBody(r, c.Limits.PolicyBodyLimit(op.API.Config.MaxBodyBytes))
		if reason != "" {
			ev.Refuse(reason)
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
	var key Key
	cacheable := false
	if c.Decisions != nil && len(opts) == 0 {
		key, cacheable = c.Decisions.Key(r, &op.Input, ev.Outcomes)
	}
	var d *bundles.Decision
	hit := false
	if cacheable {
		d, ev.principalOf, hit = c.Decisions.Get(key)
	}
	if !hit {
		var err error
		if len(opts) == 0 {
			d, err = c.Engine.DecidePlan(pctx, op.Plan, ev.policyInput(c.Engine))
		} else {
			d, err = c.Engine.Decide(pctx, ev.Input(), opts...)
		}
		if err != nil {
			if traced {
				endPolicySpan(sp, nil, false)
			}
			ev.PolicyTime = time.Since(policyStart)
			ev.Refuse(ReasonPolicyError)
			ev.Failure = err
			return ev
		}
		if cacheable {
			c.Decisions.Put(key, d)
		}
	}
	ev.PolicyTime = time.Since(policyStart)
	if traced {
		endPolicySpan(sp, d, hit)
	}
	ev.Decision, ev.CachedDecision = d, hit
	if !d.Allow {
		ev.Reason, ev.Answer = PickDenial(d)
		ev.Status = ev.Answer.Status
	}
	ev.Shape = ShapeOf(d, ev.Reason, c.AssertionHeader, c.XFCCHeader)
	return ev
}

// finishRate applies the plan's limit to an allowed request (stage 2), then
// charges stage 1's buckets for what the request turned out to be.
func finishRate(ctx context.Context, l *ratelimit.Limits, ev *Evaluation, st *ratelimit.State) {
	if ev.Status == 0 && ev.Decision != nil && ev.Decision.Allow && ev.Op != nil {
		if status, retry := l.Plan(ctx, ev.Op.API.Name, ev.Op.API.Version, ev.Principal()); status != 0 {
			ev.Refuse(ReasonRateLimited)
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

// ClientIP is the client's address without its port (input.request.client_ip).
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
