package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/redisconn"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// syncReplicas opens n synchronized stores on one Redis (one key prefix),
// as n gateway replicas would; batches run only when the test says.
func syncReplicas(t *testing.T, addr, prefix string, n, replicas int) []*syncStore {
	var out []*syncStore
	for range n {
		st, _ := openStore(t, RedisConfig{Config: redisconn.Config{Address: addr}, KeyPrefix: prefix,
			Replicas: replicas, SyncInterval: config.Duration(time.Hour)})
		out = append(out, st.(*syncStore))
	}
	return out
}

// TestSyncAccuracyBound counts how far N synchronized replicas go over a
// bucket of burst B (refill negligible) in the worst order for them: every
// replica runs its batch and then spends all it believes is left before the
// next replica's batch, round after round until none admits anything. The
// documented bound (store_sync.go) is B + 2·(N−1)·(B/R + 1), with R the
// configured replicas; the counts are logged for the README.
func TestSyncAccuracyBound(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	const B, N = 30, 3
	for _, tc := range []struct {
		name     string
		replicas int
	}{
		{"replicas-unset(kong-like)", 1},
		{"replicas=N", N},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fleet := syncReplicas(t, srv.Address(), "acc:"+tc.name+":", N, tc.replicas)
			spec := frozen(B)
			total := 0
			for round := 0; round < 20; round++ {
				admitted := 0
				for _, st := range fleet {
					st.syncOnce(context.Background())
					admitted += takes(st, "k", spec, 10*B)
				}
				total += admitted
				if admitted == 0 && round > 0 {
					break
				}
			}
			bound := B + 2*(N-1)*(B/tc.replicas+1)
			t.Logf("N=%d replicas=%d burst=%d: the fleet admitted %d (over by %d; bound %d)", N, tc.replicas, B, total, total-B, bound)
			if total < B || total > bound {
				t.Fatalf("admitted %d, want between %d and %d", total, B, bound)
			}
			// Redis holds the debt: nothing more is admitted anywhere
			for _, st := range fleet {
				st.syncOnce(context.Background())
				if n := takes(st, "k", spec, 5); n != 0 {
					t.Fatalf("admitted %d after the bucket was spent", n)
				}
			}
		})
	}
}

// TestSyncBatchesCalls counts Redis round trips: one batch per interval
// whatever the number of checks, plus one per 1000 active keys (and one
// more the first time a Redis sees the script).
func TestSyncBatchesCalls(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	for _, tc := range []struct {
		name      string
		keys      int
		checks    int
		wantCalls float64
	}{
		{"one-key-10000-checks", 1, 10000, 1},
		{"100-keys-10000-checks", 100, 10000, 1},
		{"2500-keys", 2500, 2500, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, stores := openStore(t, RedisConfig{Config: redisconn.Config{Address: srv.Address()},
				KeyPrefix: "calls:" + tc.name + ":", SyncInterval: config.Duration(time.Hour)})
			st.take(context.Background(), "warm", frozen(1))
			settle(st) // loads the script
			calls := testutil.ToFloat64(stores.calls)
			for i := range tc.checks {
				st.take(context.Background(), fmt.Sprint("k", i%tc.keys), rateSpec{rate: 1e6, burst: 1e6})
			}
			if c := testutil.ToFloat64(stores.calls) - calls; c != 0 {
				t.Fatalf("%v Redis calls before the batch", c)
			}
			settle(st)
			if c := testutil.ToFloat64(stores.calls) - calls; c != tc.wantCalls {
				t.Fatalf("%v Redis calls for the batch, want %v", c, tc.wantCalls)
			}
			// Redis got every admitted request
			rs := st.(*syncStore)
			tokens, err := rs.conn.Client().Get(context.Background(), rs.prefix+"k0").Result()
			if err != nil || tokens == "" {
				t.Fatalf("no bucket in Redis: %v", err)
			}
		})
	}
}

// TestSyncLoad drives one synchronized replica at about 10,000 checks/s
// for a second with sync_interval 10ms and logs its Redis calls per
// second (at most 100 by construction; not asserted: timing).
func TestSyncLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load")
	}
	srv := redistest.Start(t, redistest.Options{})
	st, stores := openStore(t, RedisConfig{Config: redisconn.Config{Address: srv.Address()},
		KeyPrefix: "load:", SyncInterval: config.Duration(10 * time.Millisecond)})
	start := time.Now()
	n := 0
	for time.Since(start) < time.Second {
		for range 100 {
			st.take(context.Background(), fmt.Sprint("k", n%50), rateSpec{rate: 1e6, burst: 1e6})
			n++
		}
		time.Sleep(10 * time.Millisecond)
	}
	el := time.Since(start).Seconds()
	t.Logf("%.0f checks/s, %.0f Redis calls/s", float64(n)/el, testutil.ToFloat64(stores.calls)/el)
}
