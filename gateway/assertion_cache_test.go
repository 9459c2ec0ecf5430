package gateway

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
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
	a, err := NewAsserter(IdentityConfig{Issuer: "gatehouse", Lifetime: Duration(5 * time.Minute), Algorithm: "ES256"}, "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	a.now = func() time.Time { return now }
	op := &compiledOp{Operation: &Operation{ID: "getPet"}, api: &compiledAPI{API: &API{Name: "petstore", Version: "1"}}}
	id := func(sub, jti string, exp time.Time) *authn.Identity {
		return &authn.Identity{Scheme: "jwt", Type: authn.TypeJWT, Subject: sub, Issuer: "https://idp/", ClientID: "app",
			Scopes: []string{"read"}, TokenID: jti, ExpiresAt: exp}
	}
	first, err := a.Assertion(op, []*authn.Identity{id("alice", "t1", now.Add(time.Hour))})
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
			tok, err := a.Assertion(op, []*authn.Identity{tc.id})
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
	tok, _ := a.Assertion(op, []*authn.Identity{id("alice", "t5", now.Add(time.Hour))})
	if tok == first {
		t.Fatal("stale assertion reused past its refresh time")
	}
}
