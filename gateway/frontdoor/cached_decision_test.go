package frontdoor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

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
	gen := q.generation(t)
	if gen.Decisions == nil {
		t.Fatal("the quickstart policy is not cacheable: nothing to check")
	}
	cached := 0
	for i, c := range quickstartCases {
		t.Run(c.name, func(t *testing.T) {
			var ev *pipeline.Evaluation
			for round := range 2 {
				ev = gen.Evaluate(q.request(t, c), fmt.Sprintf("cached%d-%d", i, round), time.Now())
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
