package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// An operation whose security requirement OR's a JWT scheme (issuers only)
// and an opaque-token scheme (key managers only): both share the
// Authorization header, each takes only the kind of token it verifies.
var orSchemesConfig = withFixtures(`
apis:
  - openapi: either.yaml
    upstream: ${UPSTREAM}
schemes:
  jwt: {type: bearer, issuers: [test]}
  opaque: {type: bearer, key_managers: [corp]}
key_managers:
  - name: corp
    introspection_url: "${CORP}"
    client_id: gateway
    client_secret: file:corp.secret
policy:
  bundles: [bundle/]
`, "listen", "issuer")

const orSchemesDoc = `
openapi: 3.0.3
info: {title: Either, version: "1"}
x-gatehouse-base-path: /either
security:
  - jwt: []
  - opaque: []
paths:
  /things:
    get: {operationId: listThings, responses: {"200": {description: ok}}}
components:
  securitySchemes:
    jwt: {type: http, scheme: bearer, bearerFormat: JWT}
    opaque: {type: http, scheme: bearer}
`

func TestOredBearerSchemesShareTheHeader(t *testing.T) {
	t.Parallel()
	corp := authntest.NewIntrospector(t, authntest.WithClientSecret("gateway", "corp-km-secret-77a"))
	cfg := strings.ReplaceAll(orSchemesConfig, "${CORP}", corp.URL())
	e := newEnv(t, envOptions{config: cfg, files: map[string]string{
		"either.yaml":      orSchemesDoc,
		"corp.secret":      "corp-km-secret-77a",
		"bundle/data.json": `{"gatehouse": {}}`,
	}})
	good := e.token(func(c map[string]any) { c["aud"] = "shapes" })
	tests := []struct {
		name   string
		token  string
		status int
		calls  int64 // introspection calls the request makes
	}{
		{name: "ok/jwt-verified-by-the-jwt-scheme", token: good, status: 200},
		{name: "ok/opaque-verified-by-the-opaque-scheme", token: corp.Issue(map[string]any{"sub": "svc-1", "exp": authntest.Exp(time.Hour)}), status: 200, calls: 1},
		{name: "fail/forged-jwt", token: authntest.TamperSignature(good), status: 401},
		{name: "fail/jwt-of-another-issuer", token: e.token(func(c map[string]any) { c["iss"] = "https://evil.example/" }), status: 401},
		{name: "fail/inactive-opaque", token: "never-issued-token", status: 401, calls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := corp.Calls()
			resp := e.do(http.MethodGet, "/either/things", bearer(tc.token))
			if resp.status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.status, tc.status, resp.body)
			}
			if got := corp.Calls() - before; got != tc.calls {
				t.Fatalf("%d introspection calls, want %d (a JWT must never reach the key manager)", got, tc.calls)
			}
		})
	}
}
