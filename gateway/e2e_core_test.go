package gateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

var coreConfig = withFixtures(`
apis:
  - openapi: shapes.yaml
    upstream: ${UPSTREAM}/backend
  - openapi: bare.yaml
    upstream: ${UPSTREAM}
schemes:
  jwt: {type: bearer, issuers: [test]}
  basic: {type: basic, users_file: users.htpasswd, users_meta_file: users.yaml, realm: shapes}
policy:
  bundles: [bundle/]
log: {level: trace}
`, "listen", "issuer")

const shapesDoc = `
openapi: 3.1.0
info: {title: Shapes, version: "1"}
x-gatehouse-base-path: /shapes
security:
  - jwt: [read]
paths:
  /doc:
    get: {operationId: docLevel, responses: {"200": {description: ok}}}
  /single:
    get:
      operationId: single
      security: [{jwt: [read]}]
      responses: {"200": {description: ok}}
    post:
      operationId: singleWrite
      security: [{jwt: [write]}]
      responses: {"200": {description: ok}}
  /or:
    get:
      operationId: either
      security: [{jwt: [read]}, {basic: []}]
      responses: {"200": {description: ok}}
  /and:
    get:
      operationId: both
      security: [{jwt: [], basic: []}]
      responses: {"200": {description: ok}}
  /override:
    get:
      operationId: override
      security: [{basic: []}]
      responses: {"200": {description: ok}}
  /public:
    get:
      operationId: public
      security: []
      responses: {"200": {description: ok}}
  /optional:
    get:
      operationId: optional
      security: [{jwt: [read]}, {}]
      responses: {"200": {description: ok}}
  /items/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get:
      operationId: item
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    jwt: {type: http, scheme: bearer, bearerFormat: JWT}
    basic: {type: http, scheme: basic}
`

const bareDoc = `
openapi: 3.0.3
info: {title: Bare, version: "2"}
x-gatehouse-base-path: /bare
paths:
  /nothing:
    get: {operationId: nothing, responses: {"200": {description: ok}}}
components:
  securitySchemes:
    jwt: {type: http, scheme: bearer}
`

func coreEnv(t *testing.T) *env {
	return newEnv(t, envOptions{
		config: coreConfig,
		files: map[string]string{
			"shapes.yaml":       shapesDoc,
			"bare.yaml":         bareDoc,
			"bundle/.manifest":  `{"revision": "core-test-7", "roots": ["gatehouse/revocations"]}`,
			"bundle/data.json":  `{"gatehouse": {"revocations": {"jti": {"revoked-jti": {}}}}}`,
			"bundle/readme.txt": "data only",
		},
	})
}

func TestCoreSecurityShapes(t *testing.T) {
	t.Parallel()
	e := coreEnv(t)
	now := time.Now()
	good := e.token(nil)
	writer := e.token(func(c map[string]any) { c["scope"] = "read write" })
	otherKey := authntest.Must(authntest.NewSigner("RS256", authntest.WithKID("k2")))
	hs := authntest.Must(authntest.NewSigner("HS256", authntest.WithKID("k1")))
	claims := func(edit func(map[string]any)) map[string]any {
		c := authntest.Claims(testIssuer, testAudience, now, time.Hour)
		c["scope"] = "read"
		if edit != nil {
			edit(c)
		}
		return c
	}

	tests := []struct {
		name      string
		method    string
		path      string
		header    http.Header
		status    int
		challenge []string // substrings of WWW-Authenticate values
		upstream  bool
	}{
		// single scheme
		{"ok/single-jwt", "GET", "/shapes/single", bearer(good), 200, nil, true},
		{"ok/doc-level-security", "GET", "/shapes/doc", bearer(good), 200, nil, true},
		{"ok/path-template", "GET", "/shapes/items/42", bearer(good), 200, nil, true},
		{"fail/single-missing", "GET", "/shapes/single", nil, 401, []string{`Bearer realm="shapes"`}, false},
		{"fail/insufficient-scope", "POST", "/shapes/single", bearer(good), 403, []string{`error="insufficient_scope"`, `scope="write"`}, false},
		{"ok/write-scope", "POST", "/shapes/single", bearer(writer), 200, nil, true},
		// OR
		{"ok/or-jwt", "GET", "/shapes/or", bearer(good), 200, nil, true},
		{"ok/or-basic", "GET", "/shapes/or", basic("alice", testUsers["alice"]), 200, nil, true},
		{"fail/or-none", "GET", "/shapes/or", nil, 401, []string{`Bearer realm="shapes"`, `Basic realm="shapes", charset="UTF-8"`}, false},
		{"fail/or-bad-jwt-does-not-fall-through", "GET", "/shapes/or", bearer(e.token(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })), 401, []string{`error="invalid_token"`}, false},
		{"fail/or-bad-basic", "GET", "/shapes/or", basic("alice", "wrong"), 401, []string{`Basic realm="shapes"`}, false},
		// AND: both schemes read Authorization, so one credential is never enough
		{"fail/and-only-jwt", "GET", "/shapes/and", bearer(good), 401, []string{"Bearer", "Basic"}, false},
		{"fail/and-only-basic", "GET", "/shapes/and", basic("bob", testUsers["bob"]), 401, nil, false},
		// override: operation security replaces the document's
		{"ok/override-basic", "GET", "/shapes/override", basic("bob", testUsers["bob"]), 200, nil, true},
		{"fail/override-jwt-not-accepted", "GET", "/shapes/override", bearer(good), 401, []string{`Basic realm="shapes"`}, false},
		// public and optional
		{"ok/public", "GET", "/shapes/public", nil, 200, nil, true},
		{"ok/public-ignores-bad-credentials", "GET", "/shapes/public", bearer("garbage"), 200, nil, true},
		{"ok/optional-anonymous", "GET", "/shapes/optional", nil, 200, nil, true},
		{"ok/optional-with-jwt", "GET", "/shapes/optional", bearer(good), 200, nil, true},
		{"fail/optional-bad-jwt", "GET", "/shapes/optional", bearer(e.token(func(c map[string]any) { c["aud"] = "other" })), 401, []string{`error="invalid_token"`}, false},
		// no security anywhere: denied
		{"fail/no-security-requirement", "GET", "/bare/nothing", nil, 403, nil, false},
		// routing before authentication
		{"fail/unknown-path-404", "GET", "/shapes/nope", bearer("garbage"), 404, nil, false},
		{"fail/wrong-method-405", "DELETE", "/shapes/single", nil, 405, nil, false},
		{"ok/head-follows-get", "HEAD", "/shapes/single", bearer(good), 200, nil, true},
		{"fail/head-follows-get-security", "HEAD", "/shapes/single", nil, 401, nil, false},
		// Basic
		{"ok/basic-bob", "GET", "/shapes/override", basic("bob", testUsers["bob"]), 200, nil, true},
		{"fail/basic-wrong-password", "GET", "/shapes/override", basic("bob", "nope"), 401, []string{`Basic realm="shapes", charset="UTF-8"`}, false},
		{"fail/basic-unknown-user", "GET", "/shapes/override", basic("mallory", "x"), 401, nil, false},
		{"fail/basic-malformed-base64", "GET", "/shapes/override", hdr("Authorization", "Basic %%%"), 401, nil, false},
		{"fail/basic-no-colon", "GET", "/shapes/override", hdr("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice"))), 401, nil, false},
		{"fail/basic-empty", "GET", "/shapes/override", hdr("Authorization", "Basic"), 401, nil, false},
		// JWT
		{"fail/jwt-expired", "GET", "/shapes/single", bearer(e.token(func(c map[string]any) { c["exp"] = now.Add(-10 * time.Minute).Unix() })), 401, []string{`error="invalid_token"`}, false},
		{"ok/jwt-expired-within-leeway", "GET", "/shapes/single", bearer(e.token(func(c map[string]any) { c["exp"] = now.Add(-10 * time.Second).Unix() })), 200, nil, true},
		{"fail/jwt-not-yet-valid", "GET", "/shapes/single", bearer(e.token(func(c map[string]any) { c["nbf"] = now.Add(10 * time.Minute).Unix() })), 401, []string{`error="invalid_token"`}, false},
		{"fail/jwt-wrong-iss", "GET", "/shapes/single", bearer(e.token(func(c map[string]any) { c["iss"] = "https://evil.test/" })), 401, []string{`error="invalid_token"`}, false},
		{"fail/jwt-wrong-aud", "GET", "/shapes/single", bearer(e.token(func(c map[string]any) { c["aud"] = "other-api" })), 401, []string{`error="invalid_token"`}, false},
		{"ok/jwt-aud-array", "GET", "/shapes/single", bearer(e.token(func(c map[string]any) { c["aud"] = []string{"x", testAudience} })), 200, nil, true},
		{"fail/jwt-alg-none", "GET", "/shapes/single", bearer(authntest.Unsigned(claims(nil))), 401, []string{`error="invalid_token"`}, false},
		{"fail/jwt-hs256-with-public-key", "GET", "/shapes/single", bearer(authntest.Must(authntest.HMACWithPublicKey(e.signer, claims(nil)))), 401, []string{`error="invalid_token"`}, false},
		{"fail/jwt-hs256-shared-secret-not-configured", "GET", "/shapes/single", bearer(authntest.Must(hs.Mint(claims(nil)))), 401, nil, false},
		{"fail/jwt-tampered-signature", "GET", "/shapes/single", bearer(authntest.TamperSignature(good)), 401, []string{`error="invalid_token"`}, false},
		{"fail/jwt-tampered-payload", "GET", "/shapes/single", bearer(authntest.TamperPayload(good, claims(func(c map[string]any) { c["scope"] = "read write" }))), 401, nil, false},
		{"fail/jwt-unknown-kid", "GET", "/shapes/single", bearer(authntest.Must(otherKey.Mint(claims(nil)))), 401, []string{`error="invalid_token"`}, false},
		{"fail/jwt-revoked-jti", "GET", "/shapes/single", bearer(e.token(func(c map[string]any) { c["jti"] = "revoked-jti" })), 401, []string{`error="invalid_token"`}, false},
		{"fail/jwt-garbage", "GET", "/shapes/single", bearer("a.b.c"), 401, nil, false},
		{"fail/two-authorization-headers", "GET", "/shapes/single", hdr("Authorization", "Bearer "+good, "Authorization", "Bearer "+good), 401, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.upstream.count()
			resp := e.do(tc.method, tc.path, tc.header)
			if resp.status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", resp.status, tc.status, resp.body)
			}
			called := e.upstream.count() > before
			if called != tc.upstream {
				t.Fatalf("upstream called = %v, want %v", called, tc.upstream)
			}
			challenges := strings.Join(resp.header.Values("WWW-Authenticate"), " | ")
			for _, want := range tc.challenge {
				if !strings.Contains(challenges, want) {
					t.Errorf("WWW-Authenticate %q lacks %q", challenges, want)
				}
			}
			if resp.status >= 400 && tc.method != "HEAD" {
				assertProblem(t, resp)
			}
		})
	}
}

// assertProblem checks a deny body: problem+json with a request id and
// nothing that helps an attacker.
func assertProblem(t *testing.T, resp response) {
	t.Helper()
	if ct := resp.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q", ct)
	}
	var p map[string]any
	if err := json.Unmarshal(resp.body, &p); err != nil {
		t.Fatalf("problem body: %v", err)
	}
	for k := range p {
		switch k {
		case "type", "title", "status", "detail", "request_id":
		default:
			t.Errorf("problem has unexpected field %q", k)
		}
	}
	if p["request_id"] == "" || resp.header.Get("X-Request-Id") == "" && p["request_id"] == nil {
		t.Errorf("problem lacks a request id")
	}
	for _, leak := range []string{"expired", "signature", "kid", "issuer", "audience", "bcrypt", "jwt"} {
		if strings.Contains(strings.ToLower(string(resp.body)), leak) {
			t.Errorf("problem body mentions %q: %s", leak, resp.body)
		}
	}
}

func TestCoreForwarding(t *testing.T) {
	t.Parallel()
	e := coreEnv(t)
	tok := e.token(func(c map[string]any) { c["sub"] = "carol"; c["scope"] = "read write" })

	spoof := bearer(tok)
	for _, h := range []string{"X-JWT-Assertion", "X-Forwarded-Client-Cert", "Client-Cert", "X-Consumer-Id", "X-Gatehouse-Subject", "X-Forwarded-User", "X-Authenticated-Userid"} {
		spoof.Set(h, "forged")
	}
	spoof.Set("X-Forwarded-For", "6.6.6.6")
	spoof.Set("X-Request-Id", "client-req-1")
	spoof.Set("Connection", "X-Request-Id, X-Jwt-Assertion")
	resp := e.doWith(e.client1, "GET", "/shapes/items/7?color=red", spoof)
	if resp.status != 200 {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	got := e.upstream.last()
	if got.Path != "/backend/items/7" || got.Query != "color=red" {
		t.Fatalf("upstream got %s?%s, want /backend/items/7?color=red", got.Path, got.Query)
	}
	if v := got.Header.Get("Authorization"); v != "" {
		t.Errorf("Authorization forwarded: %q", v)
	}
	for _, h := range []string{"X-Forwarded-Client-Cert", "Client-Cert", "X-Consumer-Id", "X-Gatehouse-Subject", "X-Forwarded-User", "X-Authenticated-Userid"} {
		if v := got.Header.Get(h); v != "" {
			t.Errorf("client-sent %s reached the upstream: %q", h, v)
		}
	}
	if xff := got.Header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the real peer only", xff)
	}
	if rid := got.Header.Get("X-Request-Id"); rid != "client-req-1" {
		t.Errorf("X-Request-Id = %q, want the client's well-formed id propagated", rid)
	}
	assertion := got.Header.Get("X-JWT-Assertion")
	if assertion == "" || assertion == "forged" {
		t.Fatalf("upstream got assertion %q", assertion)
	}

	// The assertion verifies with the JWKS the admin listener publishes.
	jr, err := http.Get(e.admin + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(jr.Body)
	jr.Body.Close()
	set, err := jwk.Parse(raw)
	if err != nil {
		t.Fatalf("gateway JWKS: %v", err)
	}
	parsed, err := jwt.Parse([]byte(assertion), jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithIssuer("gatehouse"), jwt.WithAudience("shapes"))
	if err != nil {
		t.Fatalf("assertion does not verify: %v", err)
	}
	claims, _ := parsed.AsMap(context.Background())
	if claims["sub"] != "carol" || claims["operation"] != "item" || claims["credential_issuer"] != testIssuer {
		t.Errorf("assertion claims %v", claims)
	}
	if claims["scope"] != "read write" {
		t.Errorf("assertion scope %v", claims["scope"])
	}
	if exp := parsed.Expiration(); time.Until(exp) > 5*time.Minute+time.Second || time.Until(exp) <= 0 {
		t.Errorf("assertion exp %v is not short-lived", exp)
	}

	// Public routes never forward client identity headers either, and carry
	// no assertion.
	resp = e.do("GET", "/shapes/public", hdr("X-JWT-Assertion", "forged", "X-Consumer-Username", "admin"))
	if resp.status != 200 {
		t.Fatalf("public status %d", resp.status)
	}
	got = e.upstream.last()
	if got.Header.Get("X-JWT-Assertion") != "" || got.Header.Get("X-Consumer-Username") != "" {
		t.Errorf("public route forwarded identity headers: %v", got.Header)
	}
}

func TestCoreAdminEndpoints(t *testing.T) {
	t.Parallel()
	e := coreEnv(t)
	e.do("GET", "/shapes/single", bearer(e.token(nil)))
	e.do("GET", "/shapes/single", nil)
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  `"bundle_revision"`,
		"/metrics": `gatehouse_requests_total{api="shapes",decision="allow",operation="single",status="200"} 1`,
	} {
		resp, err := http.Get(e.admin + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d, body lacks %q:\n%.2000s", path, resp.StatusCode, want, body)
		}
	}
	resp, _ := http.Get(e.admin + "/metrics")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"gatehouse_authentication_duration_seconds", "gatehouse_policy_duration_seconds", `decision="deny"`} {
		if !strings.Contains(string(body), m) {
			t.Errorf("metrics lack %s", m)
		}
	}
}

// TestCoreLogsHoldNoSecrets sends every fixture secret through every
// authenticator, valid and invalid, then greps the captured logs.
func TestCoreLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	e := coreEnv(t)
	tokens := []string{
		e.token(nil),
		e.token(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }),
		e.token(func(c map[string]any) { c["aud"] = "nope" }),
		authntest.TamperSignature(e.token(nil)),
		e.token(func(c map[string]any) { c["iss"] = strings.TrimSuffix(testIssuer, "/") }),
	}
	var secrets []string
	for _, tok := range tokens {
		e.do("GET", "/shapes/or", bearer(tok))
		secrets = append(secrets, tok, strings.Split(tok, ".")[2])
	}
	for user, pw := range testUsers {
		for _, p := range []string{pw, pw + "-wrong"} {
			h := basic(user, p)
			e.do("GET", "/shapes/or", h)
			secrets = append(secrets, p, strings.TrimPrefix(h.Get("Authorization"), "Basic "))
		}
	}
	e.do("GET", "/shapes/public", hdr("Authorization", "Bearer public-route-secret-token"))
	secrets = append(secrets, "public-route-secret-token")

	logs := e.logs.String()
	if !strings.Contains(logs, `"@message":"request"`) {
		t.Fatalf("no audit lines captured:\n%s", logs)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain a secret (%d bytes)", len(s))
		}
	}
	if strings.Contains(logs, "core-test-7") == false {
		t.Errorf("audit lines do not carry the bundle revision")
	}
	// The rejection line says which iss came and which are trusted: the
	// trailing-slash mismatch is readable without the token.
	wantIss := `iss \"https://issuer.test\" is not a trusted issuer of this scheme (trusted: \"https://issuer.test/\")`
	if !strings.Contains(logs, `"@message":"credential rejected"`) || !strings.Contains(logs, wantIss) ||
		!strings.Contains(logs, "only by a trailing slash") {
		t.Errorf("no rejection line with the token's iss and the trusted issuers:\n%s", logs)
	}
}
