package gateway

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/gateway/config"
)

const sharedSourceDoc = `
openapi: 3.0.3
info: {title: Shop, version: "1"}
x-gatehouse-base-path: /shop
x-gatehouse-upstream: http://127.0.0.1:9
security: [{oauth: []}]
paths:
  /items:
    get: {operationId: listItems, responses: {"200": {description: ok}}}
components:
  securitySchemes:
    oauth: {type: http, scheme: bearer}
`

// Generations built with the same issuer config share its key source (no
// refetch on reload); a changed config gets a new source; the last
// generation using a source closes it.
func TestKeySourcesOutliveGenerations(t *testing.T) {
	srv := authntest.NewIssuer(t, authntest.WithAlg("ES256"))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "shop.yaml"), []byte(sharedSourceDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	ks := authn.NewKeySources(nil)
	build := func(extra string) *Generation {
		t.Helper()
		raw := `
listen: {http_address: "127.0.0.1:0", allow_credentials_over_http: true}
admin: {address: ""}
apis: [{openapi: shop.yaml}]
schemes: {oauth: {type: bearer, issuers: [corp]}}
issuers:
  - {name: corp, issuer: "` + srv.Issuer() + `", jwks_url: "` + srv.JWKSURL() + `", audiences: [shop]` + extra + `}
`
		cfg, err := config.Parse(filepath.Join(dir, "gatehouse.yaml"), []byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		g, err := BuildGeneration(context.Background(), cfg, BuildOptions{KeySources: ks})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g1 := build("")
	g2 := build(", max_lifetime: 1h") // not a key source setting
	if len(g1.jwks) != 1 || g1.jwks[0] != g2.jwks[0] {
		t.Fatal("an unchanged issuer did not keep its key source")
	}
	if n := srv.JWKSFetches(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
	g3 := build(", jwks_refresh: {interval: 30m, max: 30m}")
	if g3.jwks[0] == g1.jwks[0] || srv.JWKSFetches() != 2 {
		t.Fatalf("a changed key source config reused the source (fetches %d)", srv.JWKSFetches())
	}
	shared := g1.jwks[0]
	_ = g1.Close()
	if ks.Len() != 2 || !shared.Available() {
		t.Fatalf("closing one of two generations closed the shared source (%d sources)", ks.Len())
	}
	_ = g2.Close()
	if ks.Len() != 1 {
		t.Fatalf("%d sources after the last user closed", ks.Len())
	}
	before := srv.JWKSFetches()
	if _, err := shared.Key(context.Background(), "unknown-kid", "ES256"); err == nil || srv.JWKSFetches() != before {
		t.Fatalf("a closed source fetched (err %v)", err)
	}
	_ = g3.Close()
	if ks.Len() != 0 {
		t.Fatalf("%d sources left", ks.Len())
	}
	if !strings.Contains(shared.Status().URL, srv.URL()) {
		t.Fatalf("status = %+v", shared.Status())
	}
}
