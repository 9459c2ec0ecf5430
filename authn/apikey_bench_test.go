package authn_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/apikeys"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

// BenchmarkAPIKey: validating a key issued by the token service, with the
// verified-key cache (the common case) and without it, per algorithm and
// location; and a static key (digest lookup, no cache needed).
func BenchmarkAPIKey(b *testing.B) {
	kt := map[string]authntest.KeyType{"ES256": authntest.ECDSAP256, "EdDSA": authntest.Ed25519, "RS256": authntest.RSA2048}
	static := authntest.Must(authn.ParseStaticAPIKeys(map[string]any{
		"erp": map[string]any{"sha256": authn.HashAPIKey(staticKey), "application": "erp", "apis": []any{map[string]any{"name": "petstore"}}},
	}))
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		svc := authntest.Must(apikeys.New(apikeys.Config{Issuer: stsIss, Signer: authntest.Must(authntest.GenerateKey(kt[alg])), Algorithm: alg}))
		out := authntest.Must(svc.Issue(apikeys.Request{
			APIs: []authn.APIRef{{Name: "petstore", Version: "1.0.0"}}, Subject: "partner-1", Application: "app-1", Plan: "gold", Validity: "720h",
		}))
		modes := []struct {
			name  string
			loc   authn.APIKeyLocation
			key   string
			cache time.Duration
		}{
			{"header/cached", inHeader, out.Key, time.Minute},
			{"header/uncached", inHeader, out.Key, 0},
			{"query/cached", inQuery, out.Key, time.Minute},
			{"cookie/cached", inCookie, out.Key, time.Minute},
			{"static", inHeader, staticKey, time.Minute},
		}
		for _, m := range modes {
			if alg != "ES256" && m.name != "header/cached" && m.name != "header/uncached" {
				continue
			}
			a, err := authn.NewAPIKey("partnerKey", authn.APIKeyConfig{
				Location: m.loc, Issuer: svc.Verifier(), Static: func() *authn.StaticAPIKeys { return static },
			}, authn.WithCacheTTL(m.cache))
			if err != nil {
				b.Fatal(err)
			}
			r, _ := http.NewRequest("GET", "/pets?color=red", nil)
			switch m.loc.In {
			case authn.InHeader:
				r.Header.Set(m.loc.Name, m.key)
			case authn.InQuery:
				r.URL.RawQuery = "color=red&" + m.loc.Name + "=" + url.QueryEscape(m.key)
			case authn.InCookie:
				r.Header.Set("Cookie", "theme=dark; "+m.loc.Name+"="+m.key)
			}
			if _, err := a.Authenticate(r); err != nil {
				b.Fatal(err)
			}
			b.Run(alg+"/"+m.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := a.Authenticate(r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
