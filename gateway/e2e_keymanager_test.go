package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/authn/keymanager"
	"github.com/gatehouse/gatehouse/gateway"
)

// The internal key manager end to end: its token endpoint on the admin
// listener, its tokens validated in process by scheme oauth (next to a JWT
// issuer), subscriptions from bundle data.
var internalKMConfig = withFixtures(`
apis:
  - openapi: shop.yaml
    upstream: ${UPSTREAM}
  - openapi: orders.yaml
    upstream: ${UPSTREAM}
schemes:
  oauth: {type: bearer, issuers: [test], key_managers: [gatehouse]}
internal_key_manager:
  issuer: https://gateway.test/
  token_lifetime: 10m
  ${STORE}
policy:
  bundles: [bundle/]
log: {level: trace}
`, "listen", "issuer")

const ordersDoc = `
openapi: 3.0.3
info: {title: Orders, version: "1"}
x-gatehouse-base-path: /orders
security:
  - oauth: [read]
paths:
  /list:
    get: {operationId: listOrders, responses: {"200": {description: ok}}}
components:
  securitySchemes:
    oauth:
      type: oauth2
      flows: {clientCredentials: {tokenUrl: "https://gateway.test/oauth2/token", scopes: {read: read}}}
`

const (
	shopAppSecret  = "shop-app-secret-31d7c2"
	otherAppSecret = "other-app-secret-9e04aa"
)

func kmBundleData(t *testing.T) string {
	t.Helper()
	hash := func(s string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(s), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	b, _ := json.Marshal(map[string]any{"gatehouse": map[string]any{
		"applications": map[string]any{"gatehouse": map[string]any{
			"shop-app":  map[string]any{"name": "Shop", "oauth2": map[string]any{"client_secrets": []string{hash(shopAppSecret)}, "scopes": []string{"read", "write"}}},
			"other-app": map[string]any{"oauth2": map[string]any{"client_id": "other-client", "client_secrets": []string{hash(otherAppSecret)}, "scopes": []string{"read"}}},
		}},
		"subscriptions": map[string]any{"gatehouse": map[string]any{"shop-app": []any{map[string]any{"api": "shop"}}}},
	}})
	return string(b)
}

func newKMEnv(t *testing.T, store string) *env {
	t.Helper()
	return newEnv(t, envOptions{
		config: strings.Replace(internalKMConfig, "${STORE}", store, 1),
		files: map[string]string{
			"shop.yaml":        shopDoc,
			"orders.yaml":      ordersDoc,
			"bundle/data.json": kmBundleData(t),
		},
	})
}

// oauthPost posts a form to the key manager at admin (base URL) as client
// id:secret (client_secret_basic).
func oauthPost(t *testing.T, admin, path, id, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, admin+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	return resp.StatusCode, body
}

func kmToken(t *testing.T, admin, id, secret, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	status, body := oauthPost(t, admin, keymanager.TokenPath, id, secret, form)
	if status != 200 {
		t.Fatalf("token: %d %v", status, body)
	}
	return body["access_token"].(string)
}

// at sends one request to another gateway base URL with the env's client.
func (e *env) at(base, method, path string, hdr http.Header) int {
	e.t.Helper()
	req, _ := http.NewRequest(method, base+path, nil)
	req.Header = hdr
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// startAnother starts a second gateway process-equivalent on the env's
// config (a restart, or another replica) and returns it with its public
// and admin base URLs.
func (e *env) startAnother() (*gateway.Server, string, string) {
	e.t.Helper()
	log := hclog.New(&hclog.LoggerOptions{Output: e.logs, JSONFormat: true, Level: hclog.Debug})
	srv, err := gateway.New(context.Background(), filepath.Join(e.dir, "gatehouse.yaml"), gateway.Options{Logger: log})
	if err != nil {
		e.t.Fatalf("second gateway: %v", err)
	}
	if err := srv.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return srv, "https://" + srv.Addr().String(), "http://" + srv.AdminAddr().String()
}

func TestInternalKeyManagerEndToEnd(t *testing.T) {
	t.Parallel()
	e := newKMEnv(t, "store: {path: tokens.db}")
	read := kmToken(t, e.admin, "shop-app", shopAppSecret, "read")
	all := kmToken(t, e.admin, "shop-app", shopAppSecret, "")
	other := kmToken(t, e.admin, "other-client", otherAppSecret, "")
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		status int
	}{
		{"ok/client-credentials-token-calls-the-api", "GET", "/shop/items", read, 200},
		{"ok/all-allowed-scopes", "POST", "/shop/items", all, 200},
		{"fail/missing-scope", "POST", "/shop/items", read, 403},
		{"fail/not-subscribed-to-this-api", "GET", "/orders/list", read, 403},
		{"fail/application-not-subscribed", "GET", "/shop/items", other, 403},
		{"fail/unknown-token", "GET", "/shop/items", keymanager.OpaquePrefix + strings.Repeat("x", 43), 401},
		{"ok/jwt-of-the-issuer-still-works", "GET", "/shop/items", e.token(func(c map[string]any) { c["aud"] = "shapes" }), 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.upstream.count()
			resp := e.do(tc.method, tc.path, bearer(tc.token))
			if resp.status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.status, tc.status, resp.body)
			}
			if (e.upstream.count() > before) != (tc.status == 200) {
				t.Fatal("upstream call does not match the status")
			}
		})
	}
	if !strings.Contains(e.logs.String(), "subscription_required") {
		t.Fatal("no subscription_required denial in the audit log")
	}
	t.Run("fail/revoked", func(t *testing.T) {
		status, body := oauthPost(t, e.admin, keymanager.RevokePath, "shop-app", shopAppSecret, url.Values{"token": {read}})
		if status != 200 {
			t.Fatalf("revoke: %d %v", status, body)
		}
		if resp := e.do("GET", "/shop/items", bearer(read)); resp.status != 401 || !strings.Contains(resp.header.Get("WWW-Authenticate"), "invalid_token") {
			t.Fatalf("revoked token: %d %v", resp.status, resp.header)
		}
	})
	t.Run("fail/wrong-client-secret", func(t *testing.T) {
		status, body := oauthPost(t, e.admin, keymanager.TokenPath, "shop-app", "not-the-secret", url.Values{"grant_type": {"client_credentials"}})
		if status != 401 || body["error"] != "invalid_client" {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("fail/scope-the-client-may-not-request", func(t *testing.T) {
		status, body := oauthPost(t, e.admin, keymanager.TokenPath, "other-client", otherAppSecret, url.Values{"grant_type": {"client_credentials"}, "scope": {"write"}})
		if status != 400 || body["error"] != "invalid_scope" {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("ok/metadata", func(t *testing.T) {
		resp, err := http.Get(e.admin + keymanager.MetadataPath)
		if err != nil {
			t.Fatal(err)
		}
		var md map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&md)
		resp.Body.Close()
		if md["issuer"] != "https://gateway.test/" || md["token_endpoint"] != "https://gateway.test/oauth2/token" {
			t.Fatalf("metadata %v", md)
		}
	})
	logs := e.logs.String()
	for _, secret := range []string{read, all, other, shopAppSecret, otherAppSecret} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret reached the logs: %s…", secret[:6])
		}
	}
}

// The file store: a token survives a gateway restart, and so does its
// revocation.
func TestInternalKeyManagerSurvivesRestart(t *testing.T) {
	t.Parallel()
	e := newKMEnv(t, "store: {path: state/tokens.db}")
	tok := kmToken(t, e.admin, "shop-app", shopAppSecret, "read")
	revoked := kmToken(t, e.admin, "shop-app", shopAppSecret, "read")
	if status, _ := oauthPost(t, e.admin, keymanager.RevokePath, "shop-app", shopAppSecret, url.Values{"token": {revoked}}); status != 200 {
		t.Fatal(status)
	}
	if resp := e.do("GET", "/shop/items", bearer(tok)); resp.status != 200 {
		t.Fatalf("before restart: %d", resp.status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, base, _ := e.startAnother()
	for _, tc := range []struct {
		name   string
		tok    string
		status int
	}{{"ok/token-after-restart", tok, 200}, {"fail/revoked-after-restart", revoked, 401}} {
		t.Run(tc.name, func(t *testing.T) {
			if s := e.at(base, "GET", "/shop/items", bearer(tc.tok)); s != tc.status {
				t.Fatalf("status %d, want %d", s, tc.status)
			}
		})
	}
}

// Two gateways sharing Redis accept each other's tokens and revocations.
func TestInternalKeyManagerSharedRedis(t *testing.T) {
	t.Parallel()
	addr := authntest.StartRedis(t)
	e := newKMEnv(t, fmt.Sprintf("cache_ttl: 1s\n  store: {type: redis, address: %q, key_prefix: 'e2e:'}", addr))
	_, baseB, adminB := e.startAnother()
	fromA := kmToken(t, e.admin, "shop-app", shopAppSecret, "read")
	fromB := kmToken(t, adminB, "shop-app", shopAppSecret, "read")
	for _, tc := range []struct {
		name, base, tok string
	}{{"ok/a-token-at-b", baseB, fromA}, {"ok/b-token-at-a", e.base, fromB}, {"ok/a-token-at-a", e.base, fromA}} {
		t.Run(tc.name, func(t *testing.T) {
			if s := e.at(tc.base, "GET", "/shop/items", bearer(tc.tok)); s != 200 {
				t.Fatalf("status %d", s)
			}
		})
	}
	t.Run("fail/revoked-at-b-refused-at-a", func(t *testing.T) {
		if status, _ := oauthPost(t, adminB, keymanager.RevokePath, "shop-app", shopAppSecret, url.Values{"token": {fromA}}); status != 200 {
			t.Fatal(status)
		}
		if s := e.at(baseB, "GET", "/shop/items", bearer(fromA)); s != 401 {
			t.Fatalf("at b: %d", s)
		}
		// a validated it before the revocation: refused once its cache
		// entry (cache_ttl 1s) ends.
		eventually(t, "a to refuse a token revoked at b", func() bool {
			return e.at(e.base, "GET", "/shop/items", bearer(fromA)) == 401
		})
	})
	t.Run("fail/revoked-at-a-never-seen-at-b", func(t *testing.T) {
		fresh := kmToken(t, e.admin, "shop-app", shopAppSecret, "read")
		if status, _ := oauthPost(t, e.admin, keymanager.RevokePath, "shop-app", shopAppSecret, url.Values{"token": {fresh}}); status != 200 {
			t.Fatal(status)
		}
		if s := e.at(baseB, "GET", "/shop/items", bearer(fresh)); s != 401 {
			t.Fatalf("status %d", s)
		}
	})
}

// The internal key manager on a dedicated TLS listener, issuing JWTs: the
// scheme introspects JWTs of issuers it does not list, so they reach the
// key manager; revocation applies to JWTs too; the admin listener does not
// serve the endpoints.
func TestInternalKeyManagerDedicatedListenerJWT(t *testing.T) {
	t.Parallel()
	key := authntest.Must(authntest.GenerateKey(authntest.ECDSAP256))
	cfg := strings.Replace(internalKMConfig, "${STORE}", `listen: 127.0.0.1:0
  tls: {cert_file: server.pem, key_file: server-key.pem}
  token_format: jwt
  signing_key_file: km-key.pem
  store: {path: tokens.db}`, 1)
	cfg = strings.Replace(cfg, "key_managers: [gatehouse]}", "key_managers: [gatehouse], introspect_jwts: true}", 1)
	e := newEnv(t, envOptions{config: cfg, files: map[string]string{
		"shop.yaml":        shopDoc,
		"orders.yaml":      ordersDoc,
		"bundle/data.json": kmBundleData(t),
		"km-key.pem":       string(authntest.Must(authntest.PrivateKeyPEM(key))),
	}})
	kmBase := "https://" + e.srv.KeyManagerAddr().String()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
	post := func(path string, form url.Values) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, kmBase+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("shop-app", shopAppSecret)
		resp, err := e.client1.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	status, body := post(keymanager.TokenPath, form)
	if status != 200 {
		t.Fatalf("token: %d %v", status, body)
	}
	tok := body["access_token"].(string)
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("not a JWT: %.20s…", tok)
	}
	if resp := e.do("GET", "/shop/items", bearer(tok)); resp.status != 200 {
		t.Fatalf("JWT of the internal key manager: %d %s", resp.status, resp.body)
	}
	if status, _ := post(keymanager.RevokePath, url.Values{"token": {tok}}); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	if resp := e.do("GET", "/shop/items", bearer(tok)); resp.status != 401 {
		t.Fatalf("revoked JWT: %d", resp.status)
	}
	if status, _ := oauthPost(t, e.admin, keymanager.TokenPath, "shop-app", shopAppSecret, form); status != 404 {
		t.Fatalf("the admin listener serves the key manager too: %d", status)
	}
}
