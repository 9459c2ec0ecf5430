package authn_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/authn/dpop"
)

// BenchmarkDPoP: one bearer request per iteration through Bearer.Authenticate
// with the token verification cached: as a plain Bearer token (baseline),
// and as a DPoP-bound token with a fresh proof per request (the proof is
// parsed, its signature verified and its jti recorded every time: proofs
// are single-use, nothing of them is cached). Proofs are minted before the
// timer starts.
func BenchmarkDPoP(b *testing.B) {
	issuer := authntest.Must(authntest.NewSigner("RS256", authntest.WithKID("k1")))
	keys := authntest.Must(authn.ParseJWKS(authntest.Must(authntest.JWKS(issuer)), nil))
	is := &authn.Issuer{Name: "corp", Issuer: issA, Audiences: []string{"petstore"}, Keys: keys}
	j := authntest.Must(authn.NewJWT("oauth", []*authn.Issuer{is}))
	v := authntest.Must(dpop.New(dpop.Config{}))
	bearer := authntest.Must(authn.NewBearer("oauth", authn.BearerConfig{JWT: j, DPoP: authn.DPoPAllowed, Proofs: v}))
	const target = "https://api.example/pets"
	request := func(authz, proof string) *http.Request {
		r := httptest.NewRequest("GET", target, nil)
		r.TLS = &tls.ConnectionState{}
		r.Header.Set("Authorization", authz)
		if proof != "" {
			r.Header.Set("DPoP", proof)
		}
		return r
	}
	b.Run("bearer", func(b *testing.B) {
		tok := authntest.Must(issuer.Mint(benchClaims(time.Now())))
		r := request("Bearer "+tok, "")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := bearer.Authenticate(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		b.Run("dpop-"+alg, func(b *testing.B) {
			client := authntest.Must(authntest.NewSigner(alg))
			c := benchClaims(time.Now())
			c["cnf"] = map[string]any{"jkt": client.JKT()}
			tok := authntest.Must(issuer.Mint(c))
			reqs := make([]*http.Request, b.N)
			for i := range reqs {
				reqs[i] = request("DPoP "+tok, authntest.Must(client.DPoPProof("GET", target, tok)))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := bearer.Authenticate(reqs[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
