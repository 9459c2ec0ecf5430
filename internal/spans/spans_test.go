package spans_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse/internal/spans"
)

const (
	validTP  = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	validTID = "4bf92f3577b34da6a3ce929d0e0e4736"
)

// Only one well-formed traceparent is continued; anything else starts a new
// trace (the remote span context stays invalid).
func TestExtract(t *testing.T) {
	tests := []struct {
		name    string
		header  http.Header
		valid   bool
		sampled bool
		state   string
	}{
		{"ok/sampled", http.Header{"Traceparent": {validTP}}, true, true, ""},
		{"ok/not-sampled", http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}}, true, false, ""},
		{"ok/tracestate", http.Header{"Traceparent": {validTP}, "Tracestate": {"vendor=abc,other=1"}}, true, true, "vendor=abc,other=1"},
		{"ok/bad-tracestate-ignored", http.Header{"Traceparent": {validTP}, "Tracestate": {"no equals sign"}}, true, true, ""},
		{"fail/absent", http.Header{}, false, false, ""},
		{"fail/empty", http.Header{"Traceparent": {""}}, false, false, ""},
		{"fail/two-headers", http.Header{"Traceparent": {validTP, "00-11111111111111111111111111111111-2222222222222222-01"}}, false, false, ""},
		{"fail/zero-trace-id", http.Header{"Traceparent": {"00-00000000000000000000000000000000-00f067aa0ba902b7-01"}}, false, false, ""},
		{"fail/zero-span-id", http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"}}, false, false, ""},
		{"fail/version-ff", http.Header{"Traceparent": {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}, false, false, ""},
		{"fail/uppercase-hex", http.Header{"Traceparent": {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"}}, false, false, ""},
		{"fail/short-trace-id", http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"}}, false, false, ""},
		{"fail/not-hex", http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01"}}, false, false, ""},
		{"fail/trailing-data-v00", http.Header{"Traceparent": {validTP + "-extra"}}, false, false, ""},
		{"fail/injection", http.Header{"Traceparent": {validTP + "\r\nX-Evil: 1"}}, false, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := trace.SpanContextFromContext(spans.Extract(context.Background(), tc.header))
			if sc.IsValid() != tc.valid || sc.IsSampled() != tc.sampled || sc.TraceState().String() != tc.state {
				t.Fatalf("span context valid=%v sampled=%v state=%q, want %v %v %q", sc.IsValid(), sc.IsSampled(), sc.TraceState().String(), tc.valid, tc.sampled, tc.state)
			}
			if tc.valid && !sc.IsRemote() {
				t.Fatal("extracted span context is not remote")
			}
		})
	}
}

// Inject replaces whatever the client sent, and writes nothing without a
// valid span context.
func TestInject(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	parent := spans.Extract(context.Background(), http.Header{"Traceparent": {validTP}})
	ctx, sp := tp.Tracer("t").Start(parent, "s")
	defer sp.End()

	h := http.Header{"Traceparent": {"garbage", "more"}, "Tracestate": {"client=1"}}
	spans.Inject(ctx, h)
	got := h.Values("Traceparent")
	if len(got) != 1 || !strings.HasPrefix(got[0], "00-"+validTID+"-"+sp.SpanContext().SpanID().String()) {
		t.Fatalf("traceparent %v, want the child of %s", got, validTID)
	}
	if len(h.Values("Tracestate")) != 0 {
		t.Fatalf("client tracestate kept: %v", h.Values("Tracestate"))
	}

	h = http.Header{"Traceparent": {"garbage"}, "Tracestate": {"client=1"}}
	spans.Inject(context.Background(), h)
	if len(h) != 0 {
		t.Fatalf("headers %v, want none", h)
	}
}

// With no recording span in the context, Start and StartClient return the
// context unchanged and allocate nothing: the path tracing-off requests take.
func TestStartWithoutTracing(t *testing.T) {
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		c, sp := spans.Start(ctx, "x")
		sp.End()
		c2, sp2 := spans.StartClient(c, "y")
		sp2.End()
		if c2 != ctx {
			t.Fatal("context changed")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per call, want 0", allocs)
	}
	// A remote, not-sampled parent does not record either.
	remote := spans.Extract(ctx, http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}})
	if c, sp := spans.Start(remote, "x"); c != remote || sp.IsRecording() {
		t.Fatal("started a span under a non-recording parent")
	}
}

// Children of a recording span share its trace and name it as parent.
func TestStartChild(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, parent := tp.Tracer("t").Start(context.Background(), "parent")
	defer parent.End()
	for _, start := range []func(context.Context, string) (context.Context, trace.Span){spans.Start, spans.StartClient} {
		_, child := start(ctx, "child")
		ro, ok := child.(sdktrace.ReadOnlySpan)
		if !ok || ro.Parent().SpanID() != parent.SpanContext().SpanID() || ro.SpanContext().TraceID() != parent.SpanContext().TraceID() {
			t.Fatalf("child %+v is not a child of %v", child.SpanContext(), parent.SpanContext())
		}
		child.End()
	}
}

func TestHeaders(t *testing.T) {
	if _, _, ok := spans.Headers(trace.SpanContext{}); ok {
		t.Fatal("headers for an invalid span context")
	}
	sc := trace.SpanContextFromContext(spans.Extract(context.Background(), http.Header{"Traceparent": {validTP}, "Tracestate": {"a=b"}}))
	tp, ts, ok := spans.Headers(sc)
	if !ok || tp != validTP || ts != "a=b" {
		t.Fatalf("headers %q %q %v", tp, ts, ok)
	}
}

// FuzzExtract: any traceparent/tracestate pair either yields nothing or a
// valid span context that Inject writes back in canonical form.
func FuzzExtract(f *testing.F) {
	f.Add(validTP, "a=b")
	f.Add("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "")
	f.Add("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future", "x=1,y=2")
	f.Add("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "=")
	f.Fuzz(func(t *testing.T, tp, ts string) {
		h := http.Header{"Traceparent": {tp}, "Tracestate": {ts}}
		sc := trace.SpanContextFromContext(spans.Extract(context.Background(), h))
		if !sc.IsValid() {
			return
		}
		out := http.Header{}
		spans.Inject(trace.ContextWithSpanContext(context.Background(), sc), out)
		got := out.Get("Traceparent")
		if len(got) != 55 || !strings.HasPrefix(got, "00-"+sc.TraceID().String()) || strings.ContainsAny(got+out.Get("Tracestate"), "\r\n") {
			t.Fatalf("re-injected %q from %q", got, tp)
		}
	})
}
