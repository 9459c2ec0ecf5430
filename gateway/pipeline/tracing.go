package pipeline

import (
	"errors"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/internal/spans"
)

// The stage spans of Evaluate, children of the request's server span
// (gateway/server_tracing.go). They are started only when
// that span records. Their attributes are names, outcomes and reasons:
// never a credential, a claim value or a header value.

// endRouteSpan records the matched operation, or that none matched.
func endRouteSpan(sp trace.Span, op *Op, err error) {
	if op != nil {
		sp.SetAttributes(
			attribute.String("http.route", op.API.BasePath+op.Path),
			attribute.String("gatehouse.api", op.API.Name),
			attribute.String("gatehouse.operation", op.ID))
	} else {
		outcome := "no_route"
		if errors.Is(err, ErrMethodNotAllowed) {
			outcome = "method_not_allowed"
		}
		sp.SetAttributes(attribute.String("gatehouse.outcome", outcome))
	}
	sp.End()
}

// authnSpan starts the span of one authenticator; the request it returns
// carries the span, so a key set fetch or an introspection the
// authenticator makes is its child.
func authnSpan(r *http.Request, scheme string) (*http.Request, trace.Span) {
	ctx, sp := spans.Start(r.Context(), "authn "+scheme)
	sp.SetAttributes(attribute.String("gatehouse.scheme", scheme))
	return r.WithContext(ctx), sp
}

// endAuthnSpan records the authenticator's outcome: verified,
// not_presented, the rejection reason, or unavailable (a technical
// failure: the error itself is logged, not put on the span).
func endAuthnSpan(sp trace.Span, err error) {
	outcome := "verified"
	switch {
	case err == nil:
	case errors.Is(err, authn.ErrNoCredentials):
		outcome = "not_presented"
	default:
		if rej, ok := authn.AsRejection(err); ok {
			outcome = string(rej.Reason)
		} else {
			outcome = "unavailable"
			sp.SetStatus(codes.Error, outcome)
		}
	}
	sp.SetAttributes(attribute.String("gatehouse.outcome", outcome))
	sp.End()
}

// endPolicySpan records the decision (nil: the policy failed) and whether
// it came from the decision cache.
func endPolicySpan(sp trace.Span, d *bundles.Decision, cached bool) {
	if d == nil {
		sp.SetStatus(codes.Error, "policy_error")
		sp.SetAttributes(attribute.String("gatehouse.decision", "error"))
		sp.End()
		return
	}
	decision := "deny"
	if d.Allow {
		decision = "allow"
	}
	sp.SetAttributes(
		attribute.String("gatehouse.decision", decision),
		attribute.Bool("gatehouse.cached", cached),
		attribute.StringSlice("gatehouse.reasons", d.Reasons))
	sp.End()
}
