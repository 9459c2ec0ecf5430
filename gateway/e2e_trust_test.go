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

// auth_method none: the gateway sends no client credentials to an
// introspection endpoint that needs none (the test server refuses any).
var openKMConfig = withFixtures(`
apis:
  - openapi: either.yaml
    upstream: ${UPSTREAM}
schemes:
  jwt: {type: bearer, issuers: [test]}
  opaque: {type: bearer, key_managers: [open]}
key_managers:
  - name: open
    introspection_url: "${OPEN}"
    auth_method: none
policy:
  bundles: [bundle/]
`, "listen", "issuer")

func TestKeyManagerWithoutClientAuth(t *testing.T) {
	t.Parallel()
	open := authntest.NewIntrospector(t, authntest.WithoutClientAuth())
	e := newEnv(t, envOptions{config: strings.ReplaceAll(openKMConfig, "${OPEN}", open.URL()), files: map[string]string{
		"either.yaml":      orSchemesDoc,
		"bundle/data.json": `{"gatehouse": {}}`,
	}})
	tests := []struct {
		name   string
		token  string
		status int
	}{
		{name: "ok/active", token: open.Issue(map[string]any{"sub": "svc-1", "exp": authntest.Exp(time.Hour)}), status: 200},
		{name: "fail/inactive", token: "never-issued-token", status: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := open.Calls()
			resp := e.do(http.MethodGet, "/either/things", bearer(tc.token))
			if resp.status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.status, tc.status, resp.body)
			}
			if open.Calls() != before+1 {
				t.Fatalf("%d introspection calls, want 1", open.Calls()-before)
			}
		})
	}
}

// Two key managers on one scheme, each recognizing its own tokens: a token
// goes to exactly one of them; a token neither recognizes goes to none.
var routedKMConfig = withFixtures(`
apis:
  - openapi: either.yaml
    upstream: ${UPSTREAM}
schemes:
  jwt: {type: bearer, issuers: [test]}
  opaque: {type: bearer, key_managers: [corp, partner]}
key_managers:
  - name: corp
    introspection_url: "${CORP}"
    auth_method: none
    token_prefix: corp_at_
  - name: partner
    introspection_url: "${PARTNER}"
    auth_method: none
    token_pattern: 'pt-[a-z0-9]+'
policy:
  bundles: [bundle/]
`, "listen", "issuer")

func TestOpaqueTokensRoutedToOneKeyManager(t *testing.T) {
	t.Parallel()
	corp := authntest.NewIntrospector(t, authntest.WithoutClientAuth())
	partner := authntest.NewIntrospector(t, authntest.WithoutClientAuth())
	cfg := strings.NewReplacer("${CORP}", corp.URL(), "${PARTNER}", partner.URL()).Replace(routedKMConfig)
	e := newEnv(t, envOptions{config: cfg, files: map[string]string{
		"either.yaml":      orSchemesDoc,
		"bundle/data.json": `{"gatehouse": {}}`,
	}})
	active := map[string]any{"sub": "svc-1", "exp": authntest.Exp(time.Hour)}
	corp.Set("corp_at_4f1c", active)
	partner.Set("pt-7a2b", active)
	// Active at the other key manager too: were it asked, it would say yes.
	partner.Set("corp_at_9d0e", active)
	corp.Set("pt-5e6f", active)
	tests := []struct {
		name                    string
		token                   string
		status                  int
		corpCalls, partnerCalls int64
	}{
		{name: "ok/corp-prefix-to-corp-only", token: "corp_at_4f1c", status: 200, corpCalls: 1},
		{name: "ok/partner-pattern-to-partner-only", token: "pt-7a2b", status: 200, partnerCalls: 1},
		{name: "fail/corp-token-inactive-at-corp-never-asks-partner", token: "corp_at_9d0e", status: 401, corpCalls: 1},
		{name: "fail/partner-token-inactive-at-partner-never-asks-corp", token: "pt-5e6f", status: 401, partnerCalls: 1},
		{name: "fail/pattern-is-anchored", token: "xpt-7a2b", status: 401},
		{name: "fail/recognized-by-neither", token: "opaque-of-nobody", status: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c0, p0 := corp.Calls(), partner.Calls()
			resp := e.do(http.MethodGet, "/either/things", bearer(tc.token))
			if resp.status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.status, tc.status, resp.body)
			}
			if c, p := corp.Calls()-c0, partner.Calls()-p0; c != tc.corpCalls || p != tc.partnerCalls {
				t.Fatalf("calls corp %d partner %d, want %d and %d", c, p, tc.corpCalls, tc.partnerCalls)
			}
		})
	}
}
