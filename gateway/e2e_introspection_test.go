package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// Two external key managers on loopback (real RFC 7662 servers that count
// calls): corp (client_secret_basic, subscription validation by client_id)
// serves scheme oauth next to the JWT issuer; partner (client_secret_post)
// serves only API "partners" through x-gatehouse-key-managers.
var introspectionConfig = withFixtures(`
apis:
  - openapi: shop.yaml
    upstream: ${UPSTREAM}
  - openapi: partners.yaml
    upstream: ${UPSTREAM}
schemes:
  oauth: {type: bearer, issuers: [test], key_managers: [corp]}
key_managers:
  - name: corp
    introspection_url: "${CORP}"
    client_id: gateway
    client_secret: file:corp.secret
    issuer: https://corp.example/
    claims: {application: client_id}
    subscription_validation: true
  - name: partner
    introspection_url: "${PARTNER}"
    auth_method: client_secret_post
    client_id: gw-partner
    client_secret: file:partner.secret
    timeout: 500ms
policy:
  bundles: [bundle/]
log: {level: trace}
`, "listen", "issuer")

const kmPartnersDoc = `
openapi: 3.0.3
info: {title: Partners, version: "1"}
x-gatehouse-base-path: /partners
security:
  - oauth: [read]
paths:
  /orders:
    get: {operationId: listOrders, responses: {"200": {description: ok}}}
components:
  securitySchemes:
    oauth:
      type: oauth2
      x-gatehouse-key-managers: [partner]
      flows: {clientCredentials: {tokenUrl: "https://partner.example/token", scopes: {read: read}}}
`

type introspectionEnv struct {
	*env
	corp, partner *authntest.Introspector
}

func newIntrospectionEnv(t *testing.T) *introspectionEnv {
	corp := authntest.NewIntrospector(t, authntest.WithClientSecret("gateway", "corp-km-secret-9f2"))
	partner := authntest.NewIntrospector(t, authntest.WithClientSecret("gw-partner", "partner-km-secret-41c"))
	cfg := strings.NewReplacer("${CORP}", corp.URL(), "${PARTNER}", partner.URL()).Replace(introspectionConfig)
	e := newEnv(t, envOptions{config: cfg, files: map[string]string{
		"shop.yaml":        shopDoc,
		"partners.yaml":    kmPartnersDoc,
		"corp.secret":      "corp-km-secret-9f2\n",
		"partner.secret":   "partner-km-secret-41c",
		"bundle/data.json": `{"gatehouse": {"subscriptions": {"corp": {"app-1": [{"api": "shop"}]}}, "revocations": {"jti": {"revoked-jti": true}}}}`,
	}})
	return &introspectionEnv{env: e, corp: corp, partner: partner}
}

func (e *introspectionEnv) corpToken(edit map[string]any) string {
	c := map[string]any{"scope": "read", "client_id": "app-1", "sub": "alice", "iss": "https://corp.example/", "exp": authntest.Exp(time.Hour)}
	for k, v := range edit {
		c[k] = v
	}
	return e.corp.Issue(c)
}

func TestIntrospectionEndToEnd(t *testing.T) {
	t.Parallel()
	e := newIntrospectionEnv(t)
	good := e.corpToken(nil)
	tests := []struct {
		name      string
		method    string
		path      string
		token     func() string
		status    int
		challenge string // substring of WWW-Authenticate
		setup     func()
	}{
		{name: "ok/opaque-token", path: "/shop/items", token: func() string { return good }, status: 200},
		{name: "ok/jwt-still-goes-to-the-issuer", path: "/shop/items", token: func() string {
			return e.token(func(c map[string]any) { c["aud"] = "shapes" })
		}, status: 200},
		{name: "fail/missing-scope", method: http.MethodPost, path: "/shop/items", token: func() string { return good }, status: 403, challenge: `error="insufficient_scope"`},
		{name: "fail/inactive", path: "/shop/items", token: func() string { return "never-issued-token" }, status: 401, challenge: `error="invalid_token"`},
		{name: "fail/expired-but-active", path: "/shop/items", token: func() string {
			return e.corpToken(map[string]any{"exp": authntest.Exp(-time.Minute)})
		}, status: 401, challenge: `error="invalid_token"`},
		{name: "fail/other-issuer", path: "/shop/items", token: func() string {
			return e.corpToken(map[string]any{"iss": "https://elsewhere.example/"})
		}, status: 401},
		{name: "fail/not-subscribed", path: "/shop/items", token: func() string {
			return e.corpToken(map[string]any{"client_id": "app-2"})
		}, status: 403},
		{name: "fail/revoked-jti", path: "/shop/items", token: func() string {
			return e.corpToken(map[string]any{"jti": "revoked-jti"})
		}, status: 401},
		{name: "fail/key-manager-down", path: "/shop/items", token: func() string { return e.corpToken(nil) }, status: 503,
			setup: func() { e.corp.SetMode(authntest.IntrospectUnavailable) }},
		{name: "fail/key-manager-refuses-the-gateway", path: "/shop/items", token: func() string { return e.corpToken(nil) }, status: 503,
			setup: func() { e.corp.SetMode(authntest.IntrospectUnauthorized) }},
		{name: "ok/partner-key-manager-for-its-api", path: "/partners/orders", token: func() string {
			return e.partner.Issue(map[string]any{"scope": "read", "sub": "p-1"})
		}, status: 200},
		{name: "fail/corp-token-not-for-partners-api", path: "/partners/orders", token: func() string { return good }, status: 401},
		{name: "fail/partner-token-not-for-shop", path: "/shop/items", token: func() string {
			return e.partner.Issue(map[string]any{"scope": "read", "sub": "p-1"})
		}, status: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.corp.SetMode(authntest.IntrospectOK)
			if tc.setup != nil {
				tc.setup()
			}
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			before := e.upstream.count()
			resp := e.do(method, tc.path, bearer(tc.token()))
			if resp.status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.status, tc.status, resp.body)
			}
			if called := e.upstream.count() > before; called != (tc.status == 200) {
				t.Fatalf("upstream called = %v with status %d", called, resp.status)
			}
			if tc.status == 200 && e.upstream.last().Header.Get("Authorization") != "" {
				t.Fatal("the token reached the upstream")
			}
			if tc.status == 503 && resp.header.Get("Retry-After") != "5" {
				t.Fatalf("503 without Retry-After: 5: %v", resp.header)
			}
			if tc.challenge != "" && !strings.Contains(strings.Join(resp.header.Values("WWW-Authenticate"), " "), tc.challenge) {
				t.Fatalf("WWW-Authenticate %q lacks %q", resp.header.Values("WWW-Authenticate"), tc.challenge)
			}
		})
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "refused the gateway's credentials") {
		t.Fatal("no error log for the key manager's 401")
	}
	for _, secret := range []string{good, "corp-km-secret-9f2", "partner-km-secret-41c", "never-issued-token"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret reached the logs: %s…", secret[:6])
		}
	}
}

// Cached answers are served without a call; they still go through the
// policy on every request.
func TestIntrospectionEndToEndCache(t *testing.T) {
	t.Parallel()
	e := newIntrospectionEnv(t)
	tok := e.corpToken(nil)
	for i := range 5 {
		if resp := e.do(http.MethodGet, "/shop/items", bearer(tok)); resp.status != 200 {
			t.Fatalf("request %d: status %d", i, resp.status)
		}
		if resp := e.do(http.MethodPost, "/shop/items", bearer(tok)); resp.status != 403 {
			t.Fatalf("request %d: cached token passed a scope check: %d", i, resp.status)
		}
	}
	if n := e.corp.CallsFor(tok); n != 1 {
		t.Fatalf("%d introspection calls for 10 requests, want 1", n)
	}
	// The key manager goes down: the cached answer keeps serving, a new
	// token fails closed.
	e.corp.SetMode(authntest.IntrospectServerError)
	if resp := e.do(http.MethodGet, "/shop/items", bearer(tok)); resp.status != 200 {
		t.Fatalf("cached token during an outage: %d", resp.status)
	}
	if resp := e.do(http.MethodGet, "/shop/items", bearer(e.corpToken(nil))); resp.status != 503 {
		t.Fatalf("new token during an outage: %d", resp.status)
	}
	resp, err := http.Get(e.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`gatehouse_introspection_requests_total{key_manager="corp",result="success"} 1`,
		`gatehouse_introspection_requests_total{key_manager="corp",result="failure"} 1`,
		`gatehouse_introspection_cache_total{key_manager="corp",result="hit"} 10`,
		`gatehouse_introspection_breaker_open{key_manager="corp"} 0`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
