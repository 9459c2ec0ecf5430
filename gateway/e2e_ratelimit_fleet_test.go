package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// TestRateLimitFleetAcrossRedisRestart: two gateways sharing one Redis
// hold a plan (burst 6, refill negligible) globally; while Redis is down
// on_store_error decides (local: each replica gets 6/2; deny: none), and
// after Redis returns (empty: the restart lost the counters) the fleet
// shares one fresh bucket again. It counts admitted requests per phase:
// the bound across a restart that loses Redis's data is one bucket before,
// one during (local with replicas set to the fleet size) and one after.
func TestRateLimitFleetAcrossRedisRestart(t *testing.T) {
	const burst = 6
	for _, tc := range []struct {
		mode       string
		sync       string
		wantDuring int
	}{
		{mode: "local", wantDuring: burst},
		{mode: "deny", wantDuring: 0},
		{mode: "local", sync: "20ms", wantDuring: burst},
	} {
		name := tc.mode
		if tc.sync != "" {
			name += "/sync_interval=" + tc.sync
		}
		t.Run(name, func(t *testing.T) {
			srv := redistest.Start(t, redistest.Options{})
			extra := ""
			if tc.sync != "" {
				extra = ", sync_interval: " + tc.sync
			}
			rl := fmt.Sprintf("rate_limits:\n  redis: {address: %q, timeout: 5s, replicas: 2, on_store_error: %s%s}\n", srv.Address(), tc.mode, extra)
			a, b := rlEnv(t, rl), rlEnv(t, rl)
			b.signer = a.signer
			b.write("issuer.jwks", string(authntest.Must(authntest.JWKS(a.signer))))
			if err := b.srv.Reload(t.Context()); err != nil {
				t.Fatal(err)
			}
			silver := bearer(a.token(func(c map[string]any) { c["app"] = "app-silver" }))
			// phase sends n requests alternating between the replicas and
			// counts the admitted ones
			phase := func(n int) int {
				ok := 0
				for i := range n {
					e := []*env{a, b}[i%2]
					switch r := e.do("GET", "/shapes/single", silver); r.status {
					case 200:
						ok++
					case http.StatusTooManyRequests:
					default:
						t.Fatalf("status %d: %s", r.status, r.body)
					}
					if tc.sync != "" && i%2 == 1 {
						time.Sleep(25 * time.Millisecond) // let batches run between pairs
					}
				}
				return ok
			}
			up := func(e *env) bool {
				return strings.Contains(metricsText(t, e), "\ngatehouse_ratelimit_redis_up 1\n")
			}
			bound := burst // direct mode: Redis decides every check
			if tc.sync != "" {
				bound = burst + 2*(2-1)*(burst/2+1) // store_sync.go
			}

			before := phase(20)
			if before < burst || before > bound {
				t.Fatalf("Redis up: the fleet admitted %d, want %d..%d", before, burst, bound)
			}
			srv.Stop()
			// the first check (direct) or batch (sync) finds Redis down;
			// what the fleet admits meanwhile counts as during the outage
			during := 0
			for deadline := time.Now().Add(20 * time.Second); up(a) || up(b); {
				during += phase(2)
				if time.Now().After(deadline) {
					t.Fatalf("Redis down not noticed: %s", grepMetric(metricsText(t, b), "ratelimit_"))
				}
			}
			during += phase(20)
			if during != tc.wantDuring {
				t.Fatalf("Redis down, on_store_error %s: the fleet admitted %d, want %d", tc.mode, during, tc.wantDuring)
			}
			srv.Restart()
			t0 := time.Now()
			for !up(a) || !up(b) {
				if tc.sync != "" {
					phase(2) // a batch needs a key to send before it can succeed
				}
				if time.Since(t0) > 20*time.Second {
					t.Fatal("Redis back not noticed")
				}
				time.Sleep(5 * time.Millisecond)
			}
			t.Logf("both replicas reached Redis again %v after it answered", time.Since(t0).Round(time.Millisecond))
			after := phase(20)
			if after > bound {
				t.Fatalf("Redis back: the fleet admitted %d, want at most %d", after, bound)
			}
			t.Logf("admitted before %d, during the outage %d, after %d (burst %d)", before, during, after, burst)
		})
	}
}

func metricsText(t *testing.T, e *env) string {
	t.Helper()
	resp, err := http.Get(e.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return readAll(resp)
}

func grepMetric(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
