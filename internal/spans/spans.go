// Package spans is the tracing every layer of the request path shares
// (authn, bundles, gateway): child spans that cost nothing while tracing is
// off, W3C trace-context propagation, and the ids for log lines. The
// process-wide tracer provider and its exporter are set up in
// gateway/tracing; nothing here holds global state.
//
// A layer below the gateway never needs a tracer of its own: a child span
// is started from the provider of the span already in the request's
// context, so a request the gateway does not trace (tracing off, or not
// sampled) carries no recording span and every Start here returns at once,
// without allocating.
package spans

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Scope is the instrumentation scope of every span Gatehouse starts.
const Scope = "github.com/gatehouse/gatehouse"

// Start starts a child of the span in ctx (kind internal) when that span
// records. Otherwise it returns ctx and the span already there, a
// non-recording one whose End does nothing: callers always End what they
// got, and set attributes only when span.IsRecording().
func Start(ctx context.Context, name string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(Scope).Start(ctx, name)
}

// StartClient is Start for a call to another service (kind client): a key
// set fetch, a token introspection, the upstream request.
func StartClient(ctx context.Context, name string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(Scope).Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
}

// propagator reads and writes W3C traceparent and tracestate only. Baggage
// is not propagated: it is whatever a client chose to send, and the
// gateway forwards no client data it does not vouch for.
var propagator = propagation.TraceContext{}

// W3C trace-context header names, canonical.
const (
	Traceparent = "Traceparent"
	Tracestate  = "Tracestate"
)

// Extract returns ctx with the remote span context of h's traceparent and
// tracestate, when h holds exactly one well-formed traceparent. A malformed
// traceparent (wrong length, version ff, all-zero ids, bad hex) is ignored
// by the propagator, and so are two or more traceparent headers: which one
// counts would depend on the parser. The request then starts a new trace.
func Extract(ctx context.Context, h http.Header) context.Context {
	if len(h[Traceparent]) != 1 {
		return ctx
	}
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// Inject replaces h's traceparent and tracestate with the span context of
// ctx. Whatever the client sent is removed first, so a malformed or
// duplicated header never travels on; with no valid span context in ctx
// none is written.
func Inject(ctx context.Context, h http.Header) {
	delete(h, Traceparent)
	delete(h, Tracestate)
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// Headers returns the traceparent and tracestate values for sc (tracestate
// empty when sc has none); ok is false for an invalid span context. The
// front doors hand these to their proxy as upstream headers.
func Headers(sc trace.SpanContext) (traceparent, tracestate string, ok bool) {
	if !sc.IsValid() {
		return "", "", false
	}
	h := http.Header{}
	propagator.Inject(trace.ContextWithSpanContext(context.Background(), sc), propagation.HeaderCarrier(h))
	return h.Get(Traceparent), h.Get(Tracestate), true
}
