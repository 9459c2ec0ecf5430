package authn

import (
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// The calls an authenticator makes to another service while a request
// waits — a key set fetch for an unknown kid, a token introspection — are
// child spans of the authenticator's span (gateway/pipeline_tracing.go),
// started with internal/spans.StartClient: nothing is started for a
// request that is not traced. Their attributes name the issuer or key
// manager and the outcome, never the token.

// endCallSpan records the outcome of a call on sp and ends it: ok, a
// rejection reason (the key manager answered: the token is not good),
// rate_limited (a key set fetch refused by RefetchInterval), or
// unavailable (a technical failure, marked as an error).
func endCallSpan(sp trace.Span, who attribute.KeyValue, err error) {
	if sp.IsRecording() {
		outcome := "ok"
		if err != nil {
			if rej, ok := AsRejection(err); ok {
				outcome = string(rej.Reason)
			} else if errors.Is(err, errRateLimited) {
				outcome = "rate_limited"
			} else {
				outcome = "unavailable"
				sp.SetStatus(codes.Error, outcome)
			}
		}
		sp.SetAttributes(who, attribute.String("gatehouse.outcome", outcome))
	}
	sp.End()
}
