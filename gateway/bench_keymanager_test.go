package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// BenchmarkEvaluateKeyManagers: route + authenticators + input + policy for
// opaque tokens — of the internal key manager (validated in process, its
// application's subscription checked by the policy) and of an external key
// manager (a loopback RFC 7662 server; answered from the cache) — next to
// a cached JWT of the same generation.
func BenchmarkEvaluateKeyManagers(b *testing.B) {
	e := newBenchEnv(b)
	intro := authntest.NewIntrospector(b)
	external := intro.Issue(map[string]any{"scope": "read:store write:store", "client_id": "bench-app", "exp": authntest.Exp(time.Hour)})
	hash, _ := bcrypt.GenerateFromPassword([]byte("bench-secret"), bcrypt.MinCost)
	data, _ := json.Marshal(map[string]any{"gatehouse": map[string]any{
		"applications":  map[string]any{"gatehouse": map[string]any{"bench-app": map[string]any{"oauth2": map[string]any{"client_secrets": []string{string(hash)}, "scopes": []string{"read:store", "write:store"}}}}},
		"subscriptions": map[string]any{"gatehouse": map[string]any{"bench-app": []any{map[string]any{"api": "bench-store"}}}},
	}})
	if err := os.MkdirAll(filepath.Join(e.dir, "km-bundle"), 0o700); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "km-bundle", "data.json"), data, 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "km.secret"), []byte(intro.Secret()), 0o600); err != nil {
		b.Fatal(err)
	}
	gen := func(scheme string) *Generation {
		cfg := fmt.Sprintf(`listen: {address: 127.0.0.1:0, tls: {cert_file: server.pem, key_file: server-key.pem}}
admin: {address: ""}
apis: [{openapi: store.json, upstream: %s}]
schemes:
  storeJWT: %s
  basicAuth: {type: basic, users_file: users.htpasswd, users_meta_file: users.yaml}
issuers:
  - {name: corp, issuer: %q, jwks_file: issuer-jwks.json, audiences: [%s]}
key_managers:
  - {name: corp-km, introspection_url: %q, client_id: %s, client_secret: file:km.secret}
internal_key_manager:
  issuer: https://gateway.bench.local/
  listen: 127.0.0.1:0
  store: {path: tokens.db}
policy: {bundles: [km-bundle/]}
log: {level: info, format: json}
`, e.upstream.URL, scheme, benchIss, benchAudience, intro.URL(), intro.ClientID())
		p := filepath.Join(e.dir, "km-bench.yaml")
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			b.Fatal(err)
		}
		c, err := config.Load(p)
		if err != nil {
			b.Fatal(err)
		}
		return benchGeneration(b, c)
	}
	internal := gen(`{type: bearer, issuers: [corp], key_managers: [gatehouse]}`)
	ext := gen(`{type: bearer, issuers: [corp], key_managers: [corp-km]}`)
	km := internal.KeyManager()
	app, err := km.Authenticate(context.Background(), "bench-app", "bench-secret")
	if err != nil {
		b.Fatal(err)
	}
	issued, err := km.Issue(context.Background(), app, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, token string
		g           *Generation
	}{
		{"jwt-cached", e.token, internal},
		{"opaque-internal-cached", issued.Token, internal},
		{"opaque-introspected-cached", external, ext},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := benchRequest("GET", benchBase+"/pets/42", "Bearer "+c.token)
			now := time.Now()
			if ev := c.g.Evaluate(r, "bench-req-1", now); ev.Status != 0 {
				b.Fatalf("not allowed: status %d reason %q failure %v", ev.Status, ev.Reason, ev.Failure)
			}
			b.ReportAllocs()
			for b.Loop() {
				if ev := c.g.Evaluate(r, "bench-req-1", now); ev.Status != 0 {
					b.Fatal(ev.Status, ev.Reason)
				}
			}
		})
	}
}
