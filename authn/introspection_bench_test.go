package authn_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

// BenchmarkBearerOpaque: the bearer router with an opaque token, answered
// from the introspection cache (cached) and by a loopback RFC 7662 call on
// every request (uncached, cache disabled: the round trip).
func BenchmarkBearerOpaque(b *testing.B) {
	for _, c := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", 0}, {"uncached-loopback-call", -1}} {
		b.Run(c.name, func(b *testing.B) {
			srv := authntest.NewIntrospector(b)
			km, err := authn.NewIntrospection(authn.IntrospectionConfig{
				Name: "bench-km", URL: srv.URL(), ClientID: srv.ClientID(), ClientSecret: authn.Redacted(srv.Secret()),
				CacheTTL: c.ttl, NegativeCacheTTL: c.ttl,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer km.Close()
			bearer, err := authn.NewBearer("oauth", authn.BearerConfig{KeyManagers: []authn.KeyManager{km}})
			if err != nil {
				b.Fatal(err)
			}
			tok := srv.Issue(map[string]any{"scope": "read write", "client_id": "app-1", "sub": "alice", "exp": authntest.Exp(time.Hour)})
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			if _, err := bearer.Authenticate(r); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bearer.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
