package apikeys_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/apikeys"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

const iss = "https://gatehouse.test/apikeys"

var petstore = authn.APIRef{Name: "petstore", Version: "1.0.0"}

func newService(t *testing.T, alg string, edit func(*apikeys.Config)) *apikeys.Service {
	t.Helper()
	kt := map[string]authntest.KeyType{"ES256": authntest.ECDSAP256, "RS256": authntest.RSA2048, "EdDSA": authntest.Ed25519}[alg]
	key := authntest.Must(authntest.GenerateKey(kt))
	cfg := apikeys.Config{Issuer: iss, Signer: key, Algorithm: alg, MaxValidity: 1000 * time.Hour, DefaultValidity: 720 * time.Hour,
		KnownAPIs: []authn.APIRef{petstore, {Name: "orders", Version: "2"}}}
	if edit != nil {
		edit(&cfg)
	}
	s, err := apikeys.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// verify checks a key with the authenticator built from the service's
// published JWKS only (what a replica has).
func verify(t *testing.T, s *apikeys.Service, key string) (*authn.Identity, error) {
	t.Helper()
	keys, err := authn.ParseJWKS(s.JWKS(), nil)
	if err != nil {
		t.Fatal(err)
	}
	v := s.Verifier()
	v.Keys = keys
	a, err := authn.NewAPIKey("k", authn.APIKeyConfig{Location: authn.APIKeyLocation{In: "header", Name: "X-Key"}, Issuer: v})
	if err != nil {
		t.Fatal(err)
	}
	return a.Verify(context.Background(), key)
}

func TestIssue(t *testing.T) {
	tests := []struct {
		name string
		alg  string
		req  apikeys.Request
		err  string // substring; "" = issued
	}{
		{"ok/es256", "ES256", apikeys.Request{APIs: []authn.APIRef{petstore}, Subject: "partner", Application: "app-1", Plan: "gold", Validity: "24h"}, ""},
		{"ok/rs256", "RS256", apikeys.Request{APIs: []authn.APIRef{petstore}, Application: "app-1"}, ""},
		{"ok/eddsa", "EdDSA", apikeys.Request{APIs: []authn.APIRef{{Name: "orders"}}, Subject: "s", Scopes: []string{"read", "write", "read"}}, ""},
		{"ok/all-apis", "ES256", apikeys.Request{AllAPIs: true, Subject: "s"}, ""},
		{"ok/max-validity", "ES256", apikeys.Request{APIs: []authn.APIRef{petstore}, Subject: "s", Validity: "1000h"}, ""},
		{"fail/over-max-validity", "ES256", apikeys.Request{APIs: []authn.APIRef{petstore}, Subject: "s", Validity: "1001h"}, "exceeds the maximum"},
		{"fail/below-min-validity", "ES256", apikeys.Request{APIs: []authn.APIRef{petstore}, Subject: "s", Validity: "1s"}, "below the minimum"},
		{"fail/bad-validity", "ES256", apikeys.Request{APIs: []authn.APIRef{petstore}, Subject: "s", Validity: "a month"}, "not a duration"},
		{"fail/no-expiry-refused", "ES256", apikeys.Request{APIs: []authn.APIRef{petstore}, Subject: "s", NoExpiry: true}, "not allowed"},
		{"fail/no-expiry-and-validity", "ES256", apikeys.Request{APIs: []authn.APIRef{petstore}, Subject: "s", NoExpiry: true, Validity: "1h"}, "either validity"},
		{"fail/no-apis", "ES256", apikeys.Request{Subject: "s"}, "apis is required"},
		{"fail/apis-and-all", "ES256", apikeys.Request{APIs: []authn.APIRef{petstore}, AllAPIs: true, Subject: "s"}, "not both"},
		{"fail/star-name", "ES256", apikeys.Request{APIs: []authn.APIRef{{Name: "*"}}, Subject: "s"}, "all_apis"},
		{"fail/unknown-api", "ES256", apikeys.Request{APIs: []authn.APIRef{{Name: "petstor"}}, Subject: "s"}, "no API petstor"},
		{"fail/unknown-version", "ES256", apikeys.Request{APIs: []authn.APIRef{{Name: "petstore", Version: "9"}}, Subject: "s"}, "no API petstore:9"},
		{"fail/no-subject", "ES256", apikeys.Request{APIs: []authn.APIRef{petstore}}, "subject or application"},
		{"fail/control-chars", "ES256", apikeys.Request{APIs: []authn.APIRef{petstore}, Subject: "a\nb"}, "control characters"},
		{"fail/scope-with-space", "ES256", apikeys.Request{APIs: []authn.APIRef{petstore}, Subject: "s", Scopes: []string{"a b"}}, "scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newService(t, tc.alg, nil)
			out, err := s.Issue(tc.req)
			if tc.err != "" {
				if !errors.Is(err, apikeys.ErrInvalidRequest) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want ErrInvalidRequest with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			id, err := verify(t, s, out.Key)
			if err != nil {
				t.Fatalf("issued key does not verify: %v", err)
			}
			if id.TokenID != out.ID || id.Subject != out.Subject || id.Application != tc.req.Application || id.Issuer != iss {
				t.Errorf("identity %v, issued %+v", id.Map(), out)
			}
			if out.ExpiresAt == nil || !id.ExpiresAt.Equal(*out.ExpiresAt) {
				t.Errorf("expiry %v vs %v", id.ExpiresAt, out.ExpiresAt)
			}
			msg, err := jws.Parse([]byte(out.Key))
			if err != nil {
				t.Fatal(err)
			}
			h := msg.Signatures()[0].ProtectedHeaders()
			if h.Type() != authn.APIKeyTyp || h.KeyID() != s.KeyID() || string(h.Algorithm()) != tc.alg {
				t.Errorf("header typ=%q kid=%q alg=%q", h.Type(), h.KeyID(), h.Algorithm())
			}
		})
	}
}

func TestIssueNoExpiryAllowed(t *testing.T) {
	s := newService(t, "ES256", func(c *apikeys.Config) { c.AllowNoExpiry = true })
	out, err := s.Issue(apikeys.Request{APIs: []authn.APIRef{petstore}, Subject: "legacy", NoExpiry: true})
	if err != nil {
		t.Fatal(err)
	}
	if out.ExpiresAt != nil {
		t.Fatalf("expires %v", out.ExpiresAt)
	}
	id, err := verify(t, s, out.Key)
	if err != nil || !id.ExpiresAt.IsZero() {
		t.Fatalf("verify: %v %v", id, err)
	}
	b, _ := json.Marshal(out)
	if !strings.Contains(string(b), `"expires_at":null`) {
		t.Errorf("response %s", b)
	}
}

// Rotation: a new signing key, the old one kept for verification; keys of
// both verify, the JWKS lists both, the kid is the RFC 7638 thumbprint.
func TestRotation(t *testing.T) {
	old := newService(t, "ES256", nil)
	oldKey, err := old.Issue(apikeys.Request{APIs: []authn.APIRef{petstore}, Subject: "s"})
	if err != nil {
		t.Fatal(err)
	}
	oldKeys, err := authn.ParseJWKS(old.JWKS(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cur := newService(t, "EdDSA", func(c *apikeys.Config) { c.Verification = oldKeys.Keys() })
	newKey, err := cur.Issue(apikeys.Request{APIs: []authn.APIRef{petstore}, Subject: "s"})
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]string{"old": oldKey.Key, "new": newKey.Key} {
		if _, err := verify(t, cur, k); err != nil {
			t.Errorf("%s key: %v", name, err)
		}
	}
	set, err := jwk.Parse(cur.JWKS())
	if err != nil || set.Len() != 2 {
		t.Fatalf("jwks: %d keys, %v", set.Len(), err)
	}
	k, _ := set.LookupKeyID(cur.KeyID())
	tp, _ := k.Thumbprint(crypto.SHA256)
	if base64.RawURLEncoding.EncodeToString(tp) != cur.KeyID() {
		t.Errorf("kid %q is not the thumbprint", cur.KeyID())
	}
	// A replica with the JWKS only verifies but cannot issue.
	ks, _ := authn.ParseJWKS(cur.JWKS(), nil)
	replica, err := apikeys.New(apikeys.Config{Issuer: iss, Verification: ks.Keys()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replica.Issue(apikeys.Request{AllAPIs: true, Subject: "s"}); !errors.Is(err, apikeys.ErrCannotIssue) {
		t.Fatalf("replica issued: %v", err)
	}
	if _, err := verify(t, replica, newKey.Key); err != nil {
		t.Fatal(err)
	}
}

func TestNewErrors(t *testing.T) {
	ec := authntest.Must(authntest.GenerateKey(authntest.ECDSAP256))
	ec384 := authntest.Must(authntest.GenerateKey(authntest.ECDSAP384))
	ca := authntest.Must(authntest.NewCA())
	otherCert := authntest.Must(ca.Client("x"))
	tests := []struct {
		name string
		cfg  apikeys.Config
		err  string
	}{
		{"fail/no-issuer", apikeys.Config{Signer: ec}, "issuer is required"},
		{"fail/no-keys", apikeys.Config{Issuer: iss}, "no signing key"},
		{"fail/bad-alg", apikeys.Config{Issuer: iss, Signer: ec, Algorithm: "HS256"}, "not one of"},
		{"fail/alg-key-mismatch", apikeys.Config{Issuer: iss, Signer: ec, Algorithm: "RS256"}, "cannot sign RS256"},
		{"fail/p384", apikeys.Config{Issuer: iss, Signer: ec384}, "cannot sign ES256"},
		{"fail/default-over-max", apikeys.Config{Issuer: iss, Signer: ec, DefaultValidity: 48 * time.Hour, MaxValidity: 24 * time.Hour}, "default validity"},
		{"fail/cert-other-key", apikeys.Config{Issuer: iss, Signer: ec, Certificate: otherCert.Certificate}, "does not hold"},
		{"fail/cert-without-key", apikeys.Config{Issuer: iss, Certificate: otherCert.Certificate}, "without its signing key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := apikeys.New(tc.cfg)
			if !errors.Is(err, apikeys.ErrKey) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
	// With its own certificate, the JWKS carries x5c.
	cert := authntest.Must(ca.Client("sts", authntest.WithKey(ec)))
	s, err := apikeys.New(apikeys.Config{Issuer: iss, Signer: ec, Certificate: cert.Certificate})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(s.JWKS()), `"x5c"`) {
		t.Errorf("jwks lacks x5c: %s", s.JWKS())
	}
}
