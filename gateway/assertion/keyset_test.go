package assertion

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

// A replaced signer's key stays published for its assertions' lifetime
// plus the JWKS cache age, then goes; the same key published again is not
// listed twice.
func TestPublishedKeepsReplacedKeyForItsOverlap(t *testing.T) {
	cfg := Config{Issuer: "gatehouse", Lifetime: config.Duration(5 * time.Minute), Algorithm: "ES256"}
	s1, err := New(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := New(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	var p Published
	if _, ok, _ := p.JWKS(time.Now()); ok {
		t.Fatal("an empty set is published")
	}
	t0 := time.Now()
	p.Use(s1, t0)
	p.Use(s2, t0)
	p.Use(s2, t0)
	cases := []struct {
		name string
		at   time.Time
		want []string
	}{
		{"ok/both during the overlap", t0.Add(9 * time.Minute), []string{s1.KeyID(), s2.KeyID()}},
		{"ok/new only after it", t0.Add(10*time.Minute + time.Second), []string{s2.KeyID()}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, ok, err := p.JWKS(c.at)
			if err != nil || !ok {
				t.Fatalf("JWKS: %v %v", ok, err)
			}
			if n := strings.Count(string(b), `"kid"`); n != len(c.want) {
				t.Fatalf("%d keys published, want %d: %s", n, len(c.want), b)
			}
			for _, kid := range c.want {
				if !strings.Contains(string(b), kid) {
					t.Errorf("kid %s missing: %s", kid, b)
				}
			}
		})
	}
}
