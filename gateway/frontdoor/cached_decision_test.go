package frontdoor_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// TestCachedDecisionIsWhole: the decision cache keeps a decision whose
// principal is a credential's identity without it, shared by every
// credential with the same answer (gateway/pipeline/cache_shared.go). For
// every quickstart curl case sent twice, the second evaluation must come
// from the cache and give back, as the decision log and the rate limiter
// read it, exactly the engine's decision on the whole input.
func TestCachedDecisionIsWhole(t *testing.T) {
	q := startQuickstart(t)
	cfg, err := config.Load(filepath.Join(q.dir, "gatehouse.yaml"))
	must(t, err)
	gen, err := gateway.BuildGeneration(context.Background(), cfg, gateway.BuildOptions{})
	must(t, err)
	t.Cleanup(func() { _ = gen.Close() })
	if gen.Decisions == nil {
		t.Fatal("the quickstart policy is not cacheable: nothing to check")
	}
	cached := 0
	for i, c := range quickstartCases {
		t.Run(c.name, func(t *testing.T) {
			facts := pipeline.Facts{Method: c.method, Target: c.path, Host: "localhost", RemoteAddr: "127.0.0.1:40000"}
			if c.header != nil {
				facts.Header = c.header(q)
			}
			if c.cert {
				facts.Certificates = []*x509.Certificate{q.client.Certificate}
			}
			var ev *pipeline.Evaluation
			for round := range 2 {
				r, err := facts.Request()
				must(t, err)
				ev = gen.Evaluate(r, fmt.Sprintf("cached%d-%d", i, round), time.Now())
			}
			if ev.Decision == nil || !ev.CachedDecision {
				return // refused before the policy, or not cacheable
			}
			cached++
			want, err := gen.Engine.Decide(context.Background(), ev.Input())
			must(t, err)
			whole := ev.WholeDecision()
			if whole.Value.Compare(want.Value) != 0 {
				t.Fatalf("cached decision\n  %v\nengine's decision\n  %v", whole.Value, want.Value)
			}
			got := ev.Principal()
			if (got == nil) != (want.Principal == nil) || got != nil && got.Compare(want.Principal) != 0 {
				t.Fatalf("principal %v, want %v", got, want.Principal)
			}
			if ev.Decision.Allow != want.Allow || len(ev.Decision.Reasons) != len(want.Reasons) {
				t.Fatalf("cached decision allow=%v reasons=%v, engine's allow=%v reasons=%v",
					ev.Decision.Allow, ev.Decision.Reasons, want.Allow, want.Reasons)
			}
		})
	}
	if cached < len(quickstartCases)/2 {
		t.Fatalf("only %d of %d cases hit the decision cache", cached, len(quickstartCases))
	}
}
