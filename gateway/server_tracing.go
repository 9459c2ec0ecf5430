package gateway

import (
	"context"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/gateway/buildinfo"
	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
	"github.com/gatehouse/gatehouse/gateway/tracing"
	"github.com/gatehouse/gatehouse/internal/spans"
)

// The tracing section builds one tracer provider for the process (like the
// decision-log writer, a change needs a restart). With tracing off s.tracer
// is nil and the request path only tests it: no span, no context, no
// header is touched, and the client's traceparent passes through the proxy
// as any other header.

func (s *Server) startTracing(ctx context.Context, cfg *config.Config) error {
	if cfg.Tracing == nil {
		return nil
	}
	p, err := tracing.New(ctx, cfg.Tracing, tracing.Options{Dir: cfg.Dir, Version: buildinfo.Get().Version, InstanceID: s.instanceID, Log: s.log})
	if err != nil {
		return err
	}
	s.tracing, s.tracer = p, p.Tracer()
	return nil
}

func (s *Server) stopTracing(ctx context.Context) error {
	if s.tracing == nil {
		return nil
	}
	return s.tracing.Shutdown(ctx)
}

// FlushTraces exports every span ended so far (tests; spans are otherwise
// batched for up to 5 s, and flushed at Shutdown).
func (s *Server) FlushTraces(ctx context.Context) error {
	if s.tracing == nil {
		return nil
	}
	return s.tracing.ForceFlush(ctx)
}

// serverSpan starts the span of one request (kind server), as a child of
// the client's traceparent when it is well formed (internal/spans.Extract),
// and returns the request carrying it. Callers check s.tracer first.
func (s *Server) serverSpan(r *http.Request, name string) (*http.Request, trace.Span) {
	ctx := spans.Extract(r.Context(), r.Header)
	ctx, span := s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.Method)))
	return r.WithContext(ctx), span
}

// endServerSpan names the span after the matched operation ("GET
// /shapes/{id}", "authorize GET /shapes/{id}" at a front door), records what
// the gateway decided — names, reasons and the status, never a credential —
// and ends it.
func endServerSpan(span trace.Span, ev *pipeline.Evaluation, decision string, status int) {
	if span.IsRecording() {
		attrs := make([]attribute.KeyValue, 0, 8)
		attrs = append(attrs,
			attribute.String("gatehouse.request_id", ev.RequestID),
			attribute.String("gatehouse.decision", decision),
			attribute.Int("http.response.status_code", status))
		if ev.Op != nil {
			name := ev.Method + " " + ev.Op.API.BasePath + ev.Op.Path
			if ev.FrontDoor {
				name = "authorize " + name
			}
			span.SetName(name)
			attrs = append(attrs,
				attribute.String("http.route", ev.Op.API.BasePath+ev.Op.Path),
				attribute.String("gatehouse.api", ev.Op.API.Name),
				attribute.String("gatehouse.operation", ev.Op.ID))
		}
		if reasons := audit.Reasons(ev); len(reasons) > 0 {
			attrs = append(attrs, attribute.StringSlice("gatehouse.reasons", reasons))
		}
		span.SetAttributes(attrs...)
		if status >= 500 {
			span.SetStatus(codes.Error, strconv.Itoa(status))
		}
	}
	span.End()
}
