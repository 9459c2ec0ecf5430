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

// TestKeyedInputDecidesAlike: the core decides a cache miss on the keyed
// input (pipeline.Input.KeyedValue: api, operation, schemes, credentials,
// rejections, client certificate) when the engine says its policy reads
// nothing else. For every quickstart curl case, the engine must reach the
// same decision, value for value, on the whole input the decision log
// records (Evaluation.Input) as the core reached on the keyed one.
func TestKeyedInputDecidesAlike(t *testing.T) {
	q := startQuickstart(t)
	cfg, err := config.Load(filepath.Join(q.dir, "gatehouse.yaml"))
	must(t, err)
	gen, err := gateway.BuildGeneration(context.Background(), cfg, gateway.BuildOptions{})
	must(t, err)
	t.Cleanup(func() { _ = gen.Close() })
	if ok, why := gen.Engine.Cacheable(); !ok {
		t.Fatalf("the quickstart policy is not cacheable (%s): the keyed input is never used", why)
	}
	decided := 0
	for i, c := range quickstartCases {
		t.Run(c.name, func(t *testing.T) {
			facts := pipeline.Facts{Method: c.method, Target: c.path, Host: "localhost", RemoteAddr: "127.0.0.1:40000"}
			if c.header != nil {
				facts.Header = c.header(q)
			}
			if c.cert {
				facts.Certificates = []*x509.Certificate{q.client.Certificate}
			}
			r, err := facts.Request()
			must(t, err)
			ev := gen.Evaluate(r, fmt.Sprintf("keyed%d", i), time.Now())
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
