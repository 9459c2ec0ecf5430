package gateway

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// The span of the upstream call, a child of the request's server span
// (server_tracing.go); the stage spans of the decision core are
// gateway/pipeline/tracing.go.

// endUpstreamSpan records the upstream's host and the status the client
// got (502/504 when the upstream failed).
func endUpstreamSpan(sp trace.Span, op *pipeline.Op, rec *recorder) {
	if sp.IsRecording() {
		sp.SetAttributes(
			attribute.String("server.address", op.API.Upstream.Host),
			attribute.Int("http.response.status_code", rec.status))
		if rec.status >= 500 {
			sp.SetStatus(codes.Error, "upstream_failed")
		}
	}
	sp.End()
}
