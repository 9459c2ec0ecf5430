package assertion

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/internal/config"
)

func assertionClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The content cache serves first-seen credentials that assert the same thing,
// but never an assertion that would outlive the new credential, and never
// across different content.
func TestAssertionContentCache(t *testing.T) {
	a, err := New(Config{Issuer: "gatehouse", Lifetime: config.Duration(5 * time.Minute), Algorithm: "ES256"}, "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	a.now = func() time.Time { return now }
	cache := NewCache()
	op := &Operation{API: "petstore", Version: "1", ID: "getPet"}
	id := func(sub, jti string, exp time.Time) *authn.Identity {
		return &authn.Identity{Scheme: "jwt", Type: authn.TypeJWT, Subject: sub, Issuer: "https://idp/", ClientID: "app",
			Scopes: []string{"read"}, TokenID: jti, ExpiresAt: exp}
	}
	first, err := a.Assertion(cache, op, []*authn.Identity{id("alice", "t1", now.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		id   *authn.Identity
		same bool
	}{
		{"ok/fresh-token-same-content-reuses", id("alice", "t2", now.Add(time.Hour)), true},
		{"ok/other-subject-signs-anew", id("bob", "t3", now.Add(time.Hour)), false},
		{"ok/shorter-lived-credential-signs-anew", id("alice", "t4", now.Add(time.Minute)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := a.Assertion(cache, op, []*authn.Identity{tc.id})
			if err != nil {
				t.Fatal(err)
			}
			if (tok == first) != tc.same {
				t.Fatalf("reused = %v, want %v", tok == first, tc.same)
			}
			c := assertionClaims(t, tok)
			if c["sub"] != tc.id.Subject {
				t.Fatalf("sub %v, want %s", c["sub"], tc.id.Subject)
			}
			if exp := int64(c["exp"].(float64)); exp > tc.id.ExpiresAt.Unix() {
				t.Fatalf("assertion exp %d outlives the credential (%d)", exp, tc.id.ExpiresAt.Unix())
			}
		})
	}
	// After half the lifetime, a fresh one is signed.
	now = now.Add(3 * time.Minute)
	tok, _ := a.Assertion(cache, op, []*authn.Identity{id("alice", "t5", now.Add(time.Hour))})
	if tok == first {
		t.Fatal("stale assertion reused past its refresh time")
	}
}

// TestAssertionCacheBelongsToGeneration: the caches' keys pin their
// generation's operations, so each generation has its own cache and the
// process-wide Asserter keeps nothing of a retired one.
func TestAssertionCacheBelongsToGeneration(t *testing.T) {
	a, err := New(Config{Issuer: "gatehouse", Lifetime: config.Duration(5 * time.Minute), Algorithm: "ES256"}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := &authn.Identity{Scheme: "jwt", Type: authn.TypeJWT, Subject: "alice", ExpiresAt: time.Now().Add(time.Hour)}
	newOp := func() *Operation {
		return &Operation{API: "petstore", Version: "1", ID: "getPet"}
	}
	sizes := func(c *Cache) (int, int) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.byIDs), len(c.content)
	}
	gen1, gen2 := NewCache(), NewCache()
	op1, op2 := newOp(), newOp()
	steps := []struct {
		name       string
		cache      *Cache
		op         *Operation
		gen1, gen2 int // entries in each generation's cache (byIDs and content alike)
	}{
		{"gen 1 stores", gen1, op1, 1, 0},
		{"gen 1 again hits", gen1, op1, 1, 0},
		{"gen 2 stores its own", gen2, op2, 1, 1},
		{"gen 1 after the swap touches only its own", gen1, op1, 1, 1},
	}
	for _, st := range steps {
		if _, err := a.Assertion(st.cache, st.op, []*authn.Identity{id}); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for i, c := range []*Cache{gen1, gen2} {
			want := []int{st.gen1, st.gen2}[i]
			if b, k := sizes(c); b != want || k != want {
				t.Fatalf("%s: generation %d cache has %d/%d entries, want %d", st.name, i+1, b, k, want)
			}
		}
	}
	// Without a cache (no generation), it signs and stores nothing.
	if _, err := a.Assertion(nil, op1, []*authn.Identity{id}); err != nil {
		t.Fatal(err)
	}
}
