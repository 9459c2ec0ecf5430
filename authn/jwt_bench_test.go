package authn_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

// benchClaims are a typical access token's claims (~700-byte RS256 token).
func benchClaims(now time.Time) map[string]any {
	c := authntest.Claims(issA, []string{"petstore", "billing"}, now, time.Hour)
	c["client_id"] = "mobile-app-7d3f"
	c["azp"] = "mobile-app-7d3f"
	c["scope"] = "read:pets write:pets read:orders"
	c["tenant"] = "acme"
	c["groups"] = []string{"staff", "beta"}
	return c
}

// BenchmarkJWT: verify with and without the verified-token cache, per
// algorithm, with keys from a file (static) and from a remote JWKS served by
// a loopback issuer (the cache hit then also asks the source whether it
// still holds the key).
func BenchmarkJWT(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		s := authntest.Must(authntest.NewSigner(alg, authntest.WithKID("k1")))
		keys := authntest.Must(authn.ParseJWKS(authntest.Must(authntest.JWKS(s)), nil))
		srv := authntest.NewIssuer(b, authntest.WithSigners(s), authntest.WithIssuerID(issA))
		remote, err := authn.NewRemoteJWKS(authn.RemoteJWKSConfig{Name: "corp", Issuer: issA, JWKSURL: srv.JWKSURL()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = remote.Close() })
		if err := remote.Refresh(context.Background()); err != nil {
			b.Fatal(err)
		}
		tok := authntest.Must(s.Mint(benchClaims(time.Now())))
		for _, mode := range []string{"cached", "uncached", "cached-remote", "uncached-remote"} {
			var opts []authn.Option
			if strings.HasPrefix(mode, "uncached") {
				opts = append(opts, authn.WithCacheTTL(0))
			}
			is := &authn.Issuer{Name: "corp", Issuer: issA, Audiences: []string{"petstore"}, Keys: keys}
			if strings.HasSuffix(mode, "-remote") {
				is.Keys = remote
			}
			j, err := authn.NewJWT("petsOAuth", []*authn.Issuer{is}, opts...)
			if err != nil {
				b.Fatal(err)
			}
			r, _ := http.NewRequest("GET", "/pets", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			if _, err := j.Authenticate(r); err != nil {
				b.Fatal(err)
			}
			b.Run(alg+"/"+mode, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(tok)))
				for b.Loop() {
					if _, err := j.Authenticate(r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkJWTReject measures the attack path: a malformed token and a
// forged signature (no cache: failures are never cached).
func BenchmarkJWTReject(b *testing.B) {
	s := authntest.Must(authntest.NewSigner("RS256", authntest.WithKID("k1")))
	keys := authntest.Must(authn.ParseJWKS(authntest.Must(authntest.JWKS(s)), nil))
	is := &authn.Issuer{Name: "corp", Issuer: issA, Audiences: []string{"petstore"}, Keys: keys}
	j, _ := authn.NewJWT("petsOAuth", []*authn.Issuer{is})
	good := authntest.Must(s.Mint(benchClaims(time.Now())))
	for name, tok := range map[string]string{
		"all-dots":        authntest.AllDots(2),
		"huge":            authntest.Huge(16 << 10),
		"alg-none":        authntest.Unsigned(benchClaims(time.Now())),
		"unknown-issuer":  authntest.Must(s.Mint(map[string]any{"iss": "https://evil.example/"})),
		"forged-RS256":    authntest.TamperSignature(good),
		"key-confusion":   authntest.Must(authntest.HMACWithPublicKey(s, benchClaims(time.Now()))),
		"opaque-not-mine": "2YotnFZFEjr1zCsicMWpAA",
	} {
		r, _ := http.NewRequest("GET", "/pets", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := j.Authenticate(r); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

// BenchmarkJWSPaths compares ways to verify the same RS256/ES256 token with
// jwx v2: Gatehouse's path (own splitter and header/claims decoding, a
// prebuilt jws.Verifier with the configured key and algorithm) against
// jws.Verify (followed by the same claims decoding) and
// jwt.Parse with validation. Informative: it justifies the choice in
// jwt_verify.go.
func BenchmarkJWSPaths(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256"} {
		s := authntest.Must(authntest.NewSigner(alg, authntest.WithKID("k1")))
		tok := []byte(authntest.Must(s.Mint(benchClaims(time.Now()))))
		a := jwa.SignatureAlgorithm(alg)
		pub := s.Public()
		keys := authntest.Must(authn.ParseJWKS(authntest.Must(authntest.JWKS(s)), nil))
		is := &authn.Issuer{Name: "corp", Issuer: issA, Audiences: []string{"petstore"}, Keys: keys}
		j, _ := authn.NewJWT("petsOAuth", []*authn.Issuer{is}, authn.WithCacheTTL(0))
		decode := func(p []byte) {
			var m map[string]any
			if err := json.Unmarshal(p, &m); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(alg+"/gatehouse", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := j.Verify(context.Background(), string(tok)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/jws.Verify", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := jws.Verify(tok, jws.WithKey(a, pub))
				if err != nil {
					b.Fatal(err)
				}
				decode(p)
			}
		})
		b.Run(alg+"/jwt.Parse", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := jwt.Parse(tok, jwt.WithKey(a, pub), jwt.WithValidate(true), jwt.WithAudience("petstore"), jwt.WithIssuer(issA)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
