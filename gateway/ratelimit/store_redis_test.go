package ratelimit

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/redisconn"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// Rate-limit stores against real redis-server processes. Refill rates are
// tiny (one token per 1000 s) so a bucket holds exactly its burst for the
// whole test: the tests count, they never time.

var frozen = func(burst int) rateSpec { return rateSpec{rate: 0.001, burst: burst} }

// openStore opens a store of r (defaults applied) in fresh Stores.
func openStore(t *testing.T, r RedisConfig) (rateStore, *Stores) {
	t.Helper()
	// A generous call bound unless the test sets one: under -race on a
	// loaded machine a Redis call can pass the 100ms default, and the store
	// then falls back to local counting, which these tests do not measure.
	// Set before ApplyDefaults, which would fill in the default.
	if r.Timeout == 0 {
		r.Timeout = config.Duration(5 * time.Second)
	}
	rl := &Config{Redis: &r}
	rl.ApplyDefaults()
	var problems []string
	rl.Check(func(ptr, f string, a ...any) { problems = append(problems, ptr) })
	if len(problems) > 0 {
		t.Fatalf("config problems at %v", problems)
	}
	stores := NewStores(hclog.NewNullLogger(), nil)
	t.Cleanup(func() { _ = stores.Close() })
	st, err := stores.get(rl, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st, stores
}

// takes counts the takes of key that succeed out of n.
func takes(st rateStore, key string, s rateSpec, n int) int {
	ok := 0
	for range n {
		if allowed, _ := st.take(context.Background(), key, s); allowed {
			ok++
		}
	}
	return ok
}

// settle runs a synchronized store's batch (a no-op for the direct store).
func settle(st rateStore) {
	if s, ok := st.(*syncStore); ok {
		s.syncOnce(context.Background())
	}
}

func deadAddress(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestOnStoreError: with Redis unreachable, local counts in this process
// with the limit divided by replicas, deny refuses, allow admits.
func TestOnStoreError(t *testing.T) {
	dead := deadAddress(t)
	for _, tc := range []struct {
		name      string
		mode      string
		replicas  int
		sync      bool
		wantTakes int // of 10, burst 6
	}{
		{name: "local-default-one-replica", mode: "", wantTakes: 6},
		{name: "local-three-replicas", mode: OnErrorLocal, replicas: 3, wantTakes: 2},
		{name: "deny", mode: OnErrorDeny, wantTakes: 0},
		{name: "allow", mode: OnErrorAllow, wantTakes: 10},
		{name: "sync/local-two-replicas", mode: OnErrorLocal, replicas: 2, sync: true, wantTakes: 3},
		{name: "sync/deny", mode: OnErrorDeny, sync: true, wantTakes: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := RedisConfig{Config: redisconn.Config{Address: dead}, OnStoreError: tc.mode, Replicas: tc.replicas,
				Timeout: config.Duration(200 * time.Millisecond)}
			if tc.sync {
				r.SyncInterval = config.Duration(time.Hour) // batches run by hand
			}
			st, stores := openStore(t, r)
			// the direct store finds Redis down on its first call, the
			// synchronized one on its first batch
			takes(st, "probe", frozen(1), 1)
			settle(st)
			if got := takes(st, "k", frozen(6), 10); got != tc.wantTakes {
				t.Fatalf("admitted %d of 10 with Redis down, want %d", got, tc.wantTakes)
			}
			if testutil.ToFloat64(stores.failures) == 0 {
				t.Fatalf("store errors not counted")
			}
		})
	}
}

// TestRedisRestartRecovery stops Redis under a running store and starts it
// again: while it is down on_store_error decides (without a call to Redis
// per check), and the checks reach Redis again within a probe interval or
// two of it answering. The window is logged (make test -v shows it), not
// asserted.
func TestRedisRestartRecovery(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	for _, mode := range []string{OnErrorLocal, OnErrorDeny, OnErrorAllow} {
		t.Run(mode, func(t *testing.T) {
			st, stores := openStore(t, RedisConfig{Config: redisconn.Config{Address: srv.Address()},
				KeyPrefix: "restart:" + mode + ":", OnStoreError: mode, Timeout: config.Duration(500 * time.Millisecond)})
			rs := st.(*redisStore)
			if got := takes(st, "k", frozen(2), 3); got != 2 {
				t.Fatalf("before the outage: %d of 3", got)
			}
			srv.Stop()
			for rs.conn.Up() {
				takes(st, "other", frozen(100), 1)
			}
			calls := testutil.ToFloat64(stores.calls)
			want := map[string]int{OnErrorLocal: 2, OnErrorDeny: 0, OnErrorAllow: 5}[mode]
			if got := takes(st, "k", frozen(2), 5); got != want {
				t.Fatalf("during the outage: %d of 5, want %d", got, want)
			}
			if c := testutil.ToFloat64(stores.calls); c != calls {
				t.Fatalf("%v Redis calls while it was known down", c-calls)
			}
			srv.Restart() // empty: the restart lost the counters
			t0 := time.Now()
			for {
				if _, err := rs.call(context.Background(), "k2", frozen(100), 1); err == nil {
					break
				}
				if time.Since(t0) > 20*time.Second {
					t.Fatalf("checks still failing 20 s after Redis returned")
				}
				time.Sleep(time.Millisecond)
			}
			t.Logf("checks reached Redis again %v after it answered", time.Since(t0).Round(time.Millisecond))
			if got := takes(st, "k", frozen(2), 3); got != 2 {
				t.Fatalf("after the restart: %d of 3", got)
			}
		})
	}
}

// TestStoreTopologies: both stores keep a shared bucket on a primary found
// through Sentinel and on a three-master Cluster (keys spread over the
// masters: the synchronized batch is split by node).
func TestStoreTopologies(t *testing.T) {
	master := redistest.Start(t, redistest.Options{})
	sentinel := redistest.StartSentinel(t, master, "rl")
	nodes := redistest.StartCluster(t, 3)
	for _, topo := range []struct {
		name string
		conn redisconn.Config
	}{
		{"sentinel", redisconn.Config{Addresses: []string{sentinel.Address()}, MasterName: "rl"}},
		{"cluster", redisconn.Config{Addresses: []string{nodes[0].Address(), nodes[2].Address()}}},
	} {
		for _, sync := range []bool{false, true} {
			name := topo.name + "/direct"
			if sync {
				name = topo.name + "/sync"
			}
			t.Run(name, func(t *testing.T) {
				r := RedisConfig{Config: topo.conn, KeyPrefix: name + ":"}
				if sync {
					r.SyncInterval = config.Duration(time.Hour) // batches by hand
				}
				a, _ := openStore(t, r)
				b, _ := openStore(t, r)
				for i := range 20 { // 20 keys land on every master
					key := fmt.Sprint("k", i)
					got := 0
					for _, step := range []struct {
						st rateStore
						n  int
					}{{a, 1}, {b, 3}, {a, 2}} {
						// a synchronized replica refreshes a key it
						// checked since its last batch (store_sync.go)
						step.st.peek(context.Background(), key, frozen(2))
						settle(step.st)
						got += takes(step.st, key, frozen(2), step.n)
						settle(step.st)
					}
					if got != 2 {
						t.Fatalf("%s: the two replicas admitted %d, want the bucket's 2", key, got)
					}
				}
			})
		}
	}
}
