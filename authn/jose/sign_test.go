package jose_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse/gatehouse/authn/jose"
)

func ecKey(t *testing.T, c elliptic.Curve) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rsaKey(t *testing.T, bits int) crypto.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Tokens the Signer writes are read back by Parse and verify with the
// public key under the signer's algorithm, and its JWK carries the kid the
// header names.
func TestSignerRoundTrip(t *testing.T) {
	ec := ecKey(t, elliptic.P256())
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rs := rsaKey(t, 2048)
	tests := []struct {
		name, alg, wantAlg string
		key                crypto.Signer
	}{
		{"ok/es256", "ES256", "ES256", ec},
		{"ok/es256-from-key", "", "ES256", ec},
		{"ok/eddsa", "EdDSA", "EdDSA", edKey},
		{"ok/rs256", "", "RS256", rs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := jose.NewSigner(tc.key, tc.alg, "at+jwt")
			if err != nil {
				t.Fatal(err)
			}
			out, err := s.SignClaims(map[string]any{"iss": "https://gw.example/", "n": 1})
			if err != nil {
				t.Fatal(err)
			}
			p := &jose.Policy{Algorithms: []string{tc.wantAlg}, Typ: "at+jwt"}
			tok, err := p.Parse([]byte(out))
			if err != nil {
				t.Fatal(err)
			}
			if tok.Header.Kid != s.KeyID() || tok.Header.Alg != tc.wantAlg || tok.Claims["iss"] != "https://gw.example/" {
				t.Fatalf("header %+v claims %v", tok.Header, tok.Claims)
			}
			if err := tok.Verify(s.Public(), tc.wantAlg); err != nil {
				t.Fatalf("verify: %v", err)
			}
			other := ecKey(t, elliptic.P256())
			if err := tok.Verify(other.Public(), tc.wantAlg); err == nil && tc.wantAlg == "ES256" {
				t.Fatal("verified with another key")
			}
			k, err := s.JWK()
			if err != nil {
				t.Fatal(err)
			}
			set, err := jose.MarshalJWKS(k)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := jwk.Parse(set)
			if err != nil {
				t.Fatal(err)
			}
			pk, ok := parsed.Key(0)
			if !ok || pk.KeyID() != s.KeyID() || pk.KeyUsage() != "sig" || pk.Algorithm().String() != tc.wantAlg {
				t.Fatalf("jwks %s", set)
			}
		})
	}
}

// A signed token whose payload or signature is altered does not verify.
func TestSignatureTamper(t *testing.T) {
	ec := ecKey(t, elliptic.P256())
	s, err := jose.NewSigner(ec, "ES256", "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Sign([]byte(`{"sub":"a"}`))
	if err != nil {
		t.Fatal(err)
	}
	var hdr map[string]any
	raw, _ := jose.DecodeSegment([]byte(strings.Split(out, ".")[0]))
	if err := json.Unmarshal(raw, &hdr); err != nil || hdr["typ"] != nil {
		t.Fatalf("header %s: typ must be omitted when empty", raw)
	}
	parts := strings.Split(out, ".")
	for name, bad := range map[string]string{
		"payload":   parts[0] + "." + seg(`{"sub":"b"}`) + "." + parts[2],
		"signature": parts[0] + "." + parts[1] + "." + seg(strings.Repeat("x", 64)),
		"empty-sig": parts[0] + "." + parts[1] + ".",
	} {
		t.Run(name, func(t *testing.T) {
			p, kind := jose.Split([]byte(bad))
			if kind != jose.JWS {
				t.Fatalf("kind %d", kind)
			}
			var je *jose.Error
			if err := jose.VerifySignature(p, ec.Public(), "ES256"); !errors.As(err, &je) || je.Failure != jose.BadSignature {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestNewSignerRefuses(t *testing.T) {
	ec := ecKey(t, elliptic.P256())
	ec384 := ecKey(t, elliptic.P384())
	weak := rsaKey(t, 1024)
	tests := []struct {
		name string
		key  crypto.Signer
		alg  string
		want string
	}{
		{"fail/alg-key-mismatch", ec, "RS256", "cannot sign RS256"},
		{"fail/hmac", ec, "HS256", "cannot sign HS256"},
		{"fail/p384-default", ec384, "", "must be P-256"},
		{"fail/p384-es256", ec384, "ES256", "cannot sign ES256"},
		{"fail/weak-rsa", weak, "RS256", "below 2048"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jose.NewSigner(tc.key, tc.alg, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
