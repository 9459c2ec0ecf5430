package authn_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// traced returns a context carrying a recording span and the recorder of
// every span ended below it.
func traced(t *testing.T) (context.Context, *tracetest.SpanRecorder, func()) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, parent := tp.Tracer("test").Start(context.Background(), "authn test")
	return ctx, rec, func() { parent.End() }
}

// ended returns the attributes of the one span named name, as text.
func ended(t *testing.T, rec *tracetest.SpanRecorder, name string) map[string]string {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d spans named %q, want 1", len(found), name)
	}
	out := map[string]string{}
	for _, kv := range found[0].Attributes() {
		out[string(kv.Key)] = kv.Value.Emit()
	}
	return out
}

// A fetch for an unknown kid that a traced request waits for is a child
// span naming the issuer; a request with a known kid makes none.
func TestRemoteJWKSFetchSpan(t *testing.T) {
	clock := newClock()
	srv := authntest.NewIssuer(t, authntest.WithAlg("ES256"))
	src := remote(t, srv, clock, nil)
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	j := remoteJWT(t, srv, src, clock)
	ctx, rec, end := traced(t)
	if _, err := j.Verify(ctx, mint(t, srv.Signer(), claimsAt(srv, clock))); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans for a known kid, want 0", n)
	}
	newTok := mint(t, authntest.Must(srv.Rotate("", true)), claimsAt(srv, clock))
	if _, err := j.Verify(ctx, newTok); err != nil {
		t.Fatal(err)
	}
	end()
	attrs := ended(t, rec, "jwks fetch")
	if attrs["gatehouse.issuer"] != "corp" || attrs["gatehouse.outcome"] != "ok" {
		t.Fatalf("jwks fetch span attributes %v", attrs)
	}
}

// A cache miss at a key manager is an introspection span with the key
// manager and the outcome; the token is in no attribute; a cache hit makes
// no span.
func TestIntrospectionSpan(t *testing.T) {
	f := newKMFixture(t, nil)
	tok := f.issue(nil)
	inactive := f.issue(map[string]any{"jti": "tok-2"})
	f.server.Revoke(inactive)
	for _, tc := range []struct {
		name, token, outcome string
	}{
		{"ok/active", tok, "ok"},
		{"fail/inactive", inactive, "inactive_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, rec, end := traced(t)
			r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+tc.token)
			_, _ = f.bearer.Authenticate(r)
			_, _ = f.bearer.Authenticate(r) // cached: no second span
			end()
			attrs := ended(t, rec, "introspection")
			if attrs["gatehouse.key_manager"] != "corp-km" || attrs["gatehouse.outcome"] != tc.outcome {
				t.Fatalf("introspection span attributes %v", attrs)
			}
			for _, s := range rec.Ended() {
				for _, kv := range s.Attributes() {
					if strings.Contains(kv.Value.Emit(), tc.token) {
						t.Fatalf("span %s attribute %s holds the token", s.Name(), kv.Key)
					}
				}
			}
		})
	}
}
