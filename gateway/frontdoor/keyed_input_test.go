package frontdoor_test

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestKeyedInputDecidesAlike: the core decides a cache miss on the keyed
// input (pipeline.Input.KeyedValue: api, operation, schemes, credentials,
// rejections, client certificate) when the engine says its policy reads
// nothing else. For every quickstart curl case, the engine must reach the
// same decision, value for value, on the whole input the decision log
// records (Evaluation.Input) as the core reached on the keyed one.
func TestKeyedInputDecidesAlike(t *testing.T) {
	q := startQuickstart(t)
	gen := q.generation(t)
	if ok, why := gen.Engine.Cacheable(); !ok {
		t.Fatalf("the quickstart policy is not cacheable (%s): the keyed input is never used", why)
	}
	decided := 0
	for i, c := range quickstartCases {
		t.Run(c.name, func(t *testing.T) {
			ev := gen.Evaluate(q.request(t, c), fmt.Sprintf("keyed%d", i), time.Now())
			if ev.Decision == nil {
				return // refused before the policy (route, edge, body)
			}
			decided++
			full, err := gen.Engine.Decide(context.Background(), ev.Input())
			must(t, err)
			if ev.Decision.Value.Compare(full.Value) != 0 {
				t.Fatalf("keyed input decided\n  %v\nwhole input decided\n  %v", ev.Decision.Value, full.Value)
			}
		})
	}
	if decided < len(quickstartCases)/2 {
		t.Fatalf("only %d of %d cases reached the policy", decided, len(quickstartCases))
	}
}
