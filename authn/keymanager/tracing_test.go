package keymanager_test

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gatehouse/gatehouse/authn/keymanager"
)

// A traced in-process validation that reaches the token store is a "token
// store lookup" span with the key manager and found/not_found; the token
// is in no attribute.
func TestValidateSpan(t *testing.T) {
	f := newKM(t, func(c *keymanager.Config) { c.CacheTTL = -1 })
	tok := f.token(t, "shop:"+shopSecret, "")
	for _, tc := range []struct{ name, token, outcome string }{
		{"ok/found", tok, "found"},
		{"fail/not-found", keymanager.OpaquePrefix + strings.Repeat("A", 43), "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			defer func() { _ = tp.Shutdown(context.Background()) }()
			ctx, parent := tp.Tracer("test").Start(context.Background(), "authn")
			_, _ = f.km.Validate(ctx, tc.token)
			parent.End()
			var got map[string]string
			for _, s := range rec.Ended() {
				for _, kv := range s.Attributes() {
					if strings.Contains(kv.Value.Emit(), tc.token) {
						t.Fatalf("span %s attribute %s holds the token", s.Name(), kv.Key)
					}
				}
				if s.Name() == "token store lookup" {
					got = map[string]string{}
					for _, kv := range s.Attributes() {
						got[string(kv.Key)] = kv.Value.Emit()
					}
				}
			}
			if got["gatehouse.outcome"] != tc.outcome || got["gatehouse.key_manager"] == "" {
				t.Fatalf("token store lookup span %v", got)
			}
		})
	}
}
