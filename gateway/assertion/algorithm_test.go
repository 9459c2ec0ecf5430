package assertion

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

// TestBuildAlgorithm: a generated key is DefaultAlgorithm unless
// upstream_identity.algorithm names another; a key file signs with its own
// key type when no algorithm is set, and an algorithm its key cannot do is
// refused.
func TestBuildAlgorithm(t *testing.T) {
	dir := t.TempDir()
	ecFile, _ := writeKey(t, dir, "ec.pem", ecKey(t), false)
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edFile, _ := writeKey(t, dir, "ed.pem", edPriv, false)
	cases := []struct {
		name, alg, keyFile string
		want               string // "": refused
	}{
		{"ok/generated, default", "", "", "EdDSA"},
		{"ok/generated ES256", "ES256", "", "ES256"},
		{"ok/generated RS256", "RS256", "", "RS256"},
		{"ok/P-256 key file, no algorithm", "", ecFile, "ES256"},
		{"ok/Ed25519 key file, no algorithm", "", edFile, "EdDSA"},
		{"ok/P-256 key file, ES256", "ES256", ecFile, "ES256"},
		{"bad/P-256 key file, EdDSA", "EdDSA", ecFile, ""},
		{"bad/Ed25519 key file, ES256", "ES256", edFile, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{Issuer: "gatehouse", Lifetime: config.Duration(time.Minute), Algorithm: c.alg}
			s, err := Build(cfg, KeyFiles{Active: c.keyFile}, nil)
			if c.want == "" {
				if !errors.Is(err, ErrSigningKey) {
					t.Fatalf("err %v, want ErrSigningKey", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.signer.Algorithm(); got != c.want {
				t.Fatalf("signs %s, want %s", got, c.want)
			}
			tok, err := s.signer.Sign([]byte(`{"sub":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := verifyWith(s.JWKS(), tok); err != nil {
				t.Fatalf("the published key set does not verify the assertion: %v", err)
			}
		})
	}
}
