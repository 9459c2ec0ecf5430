package assertion

import (
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/internal/config"
)

// BenchmarkAssertion is the assertion work for a principal the gateway has
// not seen (a cache that never hits: a new subject per request), per
// signing algorithm, for choosing upstream_identity.algorithm. It measures;
// it never asserts.
func BenchmarkAssertion(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			a, err := New(Config{Issuer: "gatehouse", Lifetime: config.Duration(5 * time.Minute), Algorithm: alg}, "")
			if err != nil {
				b.Fatal(err)
			}
			cache := NewCache()
			op := &Operation{API: "petstore", Version: "1.0.0", ID: "getPet"}
			scopes, exp := []string{"read:pets", "write:pets"}, time.Now().Add(time.Hour)
			ids := make([]*authn.Identity, 1)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				ids[0] = &authn.Identity{
					Scheme: "petsOAuth", Type: authn.TypeJWT, Subject: "user-" + strconv.Itoa(i), Issuer: "https://idp.example/",
					Source: "corp", ClientID: "app-1", Scopes: scopes, ExpiresAt: exp,
				}
				i++
				if _, err := a.Assertion(cache, op, ids); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
