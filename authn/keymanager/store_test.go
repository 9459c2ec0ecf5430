package keymanager_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/authn/keymanager"
	"github.com/gatehouse/gatehouse/internal/redisconn"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// storeKinds opens each store kind fresh for a test: the file store and
// Redis as one node, behind Sentinel and as a three-master Cluster (private
// redis-server processes; skipped loudly when not installed).
var storeKinds = []struct {
	name string
	open func(t *testing.T) keymanager.Store
}{
	{"file", func(t *testing.T) keymanager.Store {
		s, err := keymanager.OpenFile(filepath.Join(t.TempDir(), "tokens.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
	{"redis", func(t *testing.T) keymanager.Store {
		addr := authntest.StartRedis(t)
		s, err := keymanager.OpenRedis(context.Background(), keymanager.RedisConfig{Conn: redisconn.Config{Address: addr}, KeyPrefix: "test:"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
	{"redis-sentinel", func(t *testing.T) keymanager.Store {
		master := redistest.Start(t, redistest.Options{})
		sentinel := redistest.StartSentinel(t, master, "tokens")
		return openRedis(t, redisconn.Config{Addresses: []string{sentinel.Address()}, MasterName: "tokens"})
	}},
	{"redis-cluster", func(t *testing.T) keymanager.Store {
		nodes := redistest.StartCluster(t, 3)
		return openRedis(t, redisconn.Config{Mode: redisconn.ModeCluster, Address: nodes[0].Address()})
	}},
}

func openRedis(t *testing.T, c redisconn.Config) keymanager.Store {
	t.Helper()
	s, err := keymanager.OpenRedis(context.Background(), keymanager.RedisConfig{Conn: c, KeyPrefix: "test:", Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func key(s string) keymanager.Key { return sha256.Sum256([]byte(s)) }

func record(exp time.Duration) keymanager.Record {
	now := time.Now().Truncate(time.Second)
	return keymanager.Record{ClientID: "c1", Application: "app-1", Scopes: []string{"read"}, TokenID: "j1", IssuedAt: now, ExpiresAt: now.Add(exp)}
}

func TestStores(t *testing.T) {
	ctx := context.Background()
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			s := kind.open(t)
			tests := []struct {
				name string
				run  func(t *testing.T)
			}{
				{"ok/save-and-lookup", func(t *testing.T) {
					want := record(time.Hour)
					if err := s.Save(ctx, key("a"), want); err != nil {
						t.Fatal(err)
					}
					got, err := s.Lookup(ctx, key("a"))
					if err != nil || got.ClientID != "c1" || got.Application != "app-1" || got.TokenID != "j1" ||
						len(got.Scopes) != 1 || !got.ExpiresAt.Equal(want.ExpiresAt) || !got.IssuedAt.Equal(want.IssuedAt) {
						t.Fatalf("got %+v, %v", got, err)
					}
				}},
				{"fail/unknown", func(t *testing.T) {
					if _, err := s.Lookup(ctx, key("never")); !errors.Is(err, keymanager.ErrNotFound) {
						t.Fatalf("err = %v", err)
					}
				}},
				{"fail/revoked", func(t *testing.T) {
					_ = s.Save(ctx, key("b"), record(time.Hour))
					if err := s.Revoke(ctx, key("b")); err != nil {
						t.Fatal(err)
					}
					if _, err := s.Lookup(ctx, key("b")); !errors.Is(err, keymanager.ErrNotFound) {
						t.Fatalf("err = %v", err)
					}
				}},
				{"ok/revoke-unknown", func(t *testing.T) {
					if err := s.Revoke(ctx, key("never")); err != nil {
						t.Fatal(err)
					}
				}},
				{"fail/expired", func(t *testing.T) {
					rec := record(time.Hour)
					rec.ExpiresAt = time.Now().Add(-time.Second)
					_ = s.Save(ctx, key("c"), rec)
					if _, err := s.Lookup(ctx, key("c")); !errors.Is(err, keymanager.ErrNotFound) {
						t.Fatalf("err = %v", err)
					}
				}},
			}
			for _, tc := range tests {
				t.Run(tc.name, tc.run)
			}
		})
	}
}

// The file store survives a reopen (a gateway restart); expired records
// are swept; a second opener waits for the lock and gives up.
func TestFileStorePersistsAndSweeps(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokens.db")
	now := time.Now()
	clock := func() time.Time { return now }
	s, err := keymanager.OpenFile(path, clock)
	if err != nil {
		t.Fatal(err)
	}
	live, dead := record(time.Hour), record(time.Minute)
	_ = s.Save(ctx, key("live"), live)
	_ = s.Save(ctx, key("dead"), dead)
	_ = s.Save(ctx, key("revoked"), live)
	_ = s.Revoke(ctx, key("revoked"))
	if _, err := keymanager.OpenFile(path, nil); err == nil || !errors.Is(err, keymanager.ErrStore) {
		t.Fatalf("a second process opened a locked store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	s, err = keymanager.OpenFile(path, clock) // sweeps at open
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Lookup(ctx, key("live")); err != nil {
		t.Fatalf("after reopen: %v", err)
	}
	for _, k := range []string{"dead", "revoked"} {
		if _, err := s.Lookup(ctx, key(k)); !errors.Is(err, keymanager.ErrNotFound) {
			t.Fatalf("%s: %v", k, err)
		}
	}
	if n := s.Len(); n != 1 {
		t.Fatalf("%d records after the sweep, want 1", n)
	}
}

func TestRedisStoreDown(t *testing.T) {
	if _, err := keymanager.OpenRedis(context.Background(), keymanager.RedisConfig{Conn: redisconn.Config{Address: "127.0.0.1:1"}, Timeout: 200 * time.Millisecond}, nil); !errors.Is(err, keymanager.ErrStore) {
		t.Fatalf("err = %v", err)
	}
}

// TestRedisStoreOutage: while Redis is down the store fails at once with
// ErrStore (no timeout per call), and serves again after Redis returns.
func TestRedisStoreOutage(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	s, err := keymanager.OpenRedis(context.Background(), keymanager.RedisConfig{Conn: redisconn.Config{Address: srv.Address()}, Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	srv.Stop()
	if _, err := s.Lookup(ctx, key("a")); !errors.Is(err, keymanager.ErrStore) {
		t.Fatalf("lookup with Redis down: %v", err)
	}
	if s.Up() {
		t.Fatal("up with Redis down")
	}
	if _, err := s.Lookup(ctx, key("a")); !errors.Is(err, keymanager.ErrStore) {
		t.Fatalf("second lookup with Redis down: %v", err)
	}
	srv.Restart()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := s.Lookup(ctx, key("a"))
		if errors.Is(err, keymanager.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing 20 s after Redis returned: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
