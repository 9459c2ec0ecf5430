package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/gateway/health"
)

// Three issuers on loopback, each a real HTTP server that counts fetches:
//
//   - corp (RS256): JWKS URL; trusted by API "shop" (config)
//   - partner (ES256): OpenID discovery; trusted by "shop"; validates
//     subscriptions (application claim azp)
//   - own (EdDSA): JWKS URL; trusted only by API "internal", through
//     x-gatehouse-issuers on that API's securityScheme (same scheme name)
var jwksConfig = withFixtures(`
apis:
  - openapi: shop.yaml
    upstream: ${UPSTREAM}
  - openapi: internal.yaml
    upstream: ${UPSTREAM}
  - openapi: shop.yaml        # the same document as another API, WSO2-style scopes
    name: shop-any
    base_path: /shop-any
    scope_mode: any
    upstream: ${UPSTREAM}
schemes:
  oauth: {type: bearer, issuers: [corp, partner]}
issuers:
  - {name: corp, issuer: "${CORP}", jwks_url: "${CORP}/jwks.json", audiences: [shop]}
  - name: partner
    issuer: "${PARTNER}"
    discovery: true
    audiences: [shop]
    claims: {application: azp}
    subscription_validation: true
  - {name: own, issuer: "${OWN}", jwks_url: "${OWN}/jwks.json", audiences: [shop]}
policy:
  bundles: [bundle/]
  decision_timeout: 5s # 100 concurrent requests under -race on 2 shared cores
log: {level: trace}
`, "listen")

const shopDoc = `
openapi: 3.1.0
info: {title: Shop, version: "1"}
x-gatehouse-base-path: /shop
security:
  - oauth: [read]
paths:
  /items:
    get: {operationId: listItems, responses: {"200": {description: ok}}}
    post:
      operationId: addItem
      security: [{oauth: [read, write]}]
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    oauth: {type: http, scheme: bearer, bearerFormat: JWT}
`

const internalDoc = `
openapi: 3.0.3
info: {title: Internal, version: "1"}
x-gatehouse-base-path: /internal
security:
  - oauth: []
paths:
  /jobs:
    get: {operationId: listJobs, responses: {"200": {description: ok}}}
components:
  securitySchemes:
    oauth:
      type: http
      scheme: bearer
      x-gatehouse-issuers: [own]
`

const jwksBundleData = `{"gatehouse": {
  "subscriptions": {"partner": {"partner-app": [{"api": "shop", "version": "1", "plan": "gold"}]}},
  "revocations": {"jti": {"revoked-jti": true}}
}}`

type jwksEnv struct {
	*env
	corp, partner, own *authntest.Issuer
	tokens             []string // every token sent, for the log grep
	mu                 sync.Mutex
}

// newJWKSEnv starts the three issuers, lets prepare break some of them,
// then starts the gateway.
func newJWKSEnv(t *testing.T, prepare func(e *jwksEnv)) *jwksEnv {
	t.Helper()
	je := &jwksEnv{
		corp:    authntest.NewIssuer(t, authntest.WithAlg("RS256")),
		partner: authntest.NewIssuer(t, authntest.WithAlg("ES256")),
		own:     authntest.NewIssuer(t, authntest.WithAlg("EdDSA")),
	}
	if prepare != nil {
		prepare(je)
	}
	cfg := strings.NewReplacer("${CORP}", je.corp.URL(), "${PARTNER}", je.partner.URL(), "${OWN}", je.own.URL()).Replace(jwksConfig)
	je.env = newEnv(t, envOptions{config: cfg, files: map[string]string{
		"shop.yaml":        shopDoc,
		"internal.yaml":    internalDoc,
		"bundle/.manifest": `{"revision": "jwks-1", "roots": ["gatehouse"]}`,
		"bundle/data.json": jwksBundleData,
	}})
	t.Cleanup(func() {
		logs := je.logs.String()
		je.mu.Lock()
		defer je.mu.Unlock()
		for _, tok := range je.tokens {
			if strings.Contains(logs, tok) || strings.Contains(logs, strings.SplitN(tok, ".", 3)[2]) {
				t.Errorf("a token reached the logs")
			}
		}
	})
	return je
}

// mint signs claims for is (iss, aud shop, scope read, 1h) with s, or with
// is's current signer when s is nil.
func (je *jwksEnv) mint(is *authntest.Issuer, s *authntest.Signer, edit func(map[string]any), opts ...authntest.MintOption) string {
	je.t.Helper()
	c := authntest.Claims(is.Issuer(), "shop", time.Now(), time.Hour)
	c["scope"] = "read"
	c["azp"] = "partner-app"
	if edit != nil {
		edit(c)
	}
	if s == nil {
		s = is.Signer()
	}
	tok, err := s.Mint(c, opts...)
	if err != nil {
		je.t.Fatal(err)
	}
	je.mu.Lock()
	je.tokens = append(je.tokens, tok)
	je.mu.Unlock()
	return tok
}

func (je *jwksEnv) get(path, tok string) response {
	je.t.Helper()
	return je.do("GET", path, bearer(tok))
}

func TestMultiIssuerTrust(t *testing.T) {
	e := newJWKSEnv(t, nil)
	tests := []struct {
		name   string
		method string
		path   string
		tok    string
		status int
	}{
		{"ok/corp-RS256-on-shop", "GET", "/shop/items", e.mint(e.corp, nil, nil), 200},
		{"ok/partner-ES256-via-discovery-subscribed", "GET", "/shop/items", e.mint(e.partner, nil, nil), 200},
		{"ok/own-EdDSA-on-internal", "GET", "/internal/jobs", e.mint(e.own, nil, nil), 200},
		// Per-scheme issuer binding: the same scheme name trusts other
		// issuers in each API.
		{"fail/own-on-shop", "GET", "/shop/items", e.mint(e.own, nil, nil), 401},
		{"fail/corp-on-internal", "GET", "/internal/jobs", e.mint(e.corp, nil, nil), 401},
		{"fail/partner-on-internal", "GET", "/internal/jobs", e.mint(e.partner, nil, nil), 401},
		// Issuer-bound keys: a token signed by one issuer's key that claims
		// another issuer fails, whatever kid it names.
		{"fail/corp-key-claims-partner", "GET", "/shop/items", e.mint(e.partner, e.corp.Signer(), nil), 401},
		{"fail/partner-key-claims-corp-with-corp-kid", "GET", "/shop/items", e.mint(e.corp, e.partner.Signer(), nil, authntest.WithHeader("kid", e.corp.Signer().KID()), authntest.WithHeader("alg", "RS256")), 401},
		{"fail/own-key-claims-corp", "GET", "/shop/items", e.mint(e.corp, e.own.Signer(), nil), 401},
		{"fail/unknown-issuer", "GET", "/shop/items", e.mint(e.corp, nil, func(c map[string]any) { c["iss"] = "https://evil.example/" }), 401},
		// Claim shapes.
		{"ok/scope-string", "GET", "/shop/items", e.mint(e.corp, nil, func(c map[string]any) { c["scope"] = "read write" }), 200},
		{"ok/scp-array", "POST", "/shop/items", e.mint(e.corp, nil, func(c map[string]any) { delete(c, "scope"); c["scp"] = []string{"read", "write"} }), 200},
		{"fail/scp-array-lacks-write", "POST", "/shop/items", e.mint(e.corp, nil, func(c map[string]any) { delete(c, "scope"); c["scp"] = []string{"read"} }), 403},
		{"fail/scope-string-lacks-write", "POST", "/shop/items", e.mint(e.corp, nil, nil), 403},
		{"ok/aud-string", "GET", "/shop/items", e.mint(e.corp, nil, func(c map[string]any) { c["aud"] = "shop" }), 200},
		{"ok/aud-array", "GET", "/shop/items", e.mint(e.corp, nil, func(c map[string]any) { c["aud"] = []string{"billing", "shop"} }), 200},
		{"fail/aud-array-without-shop", "GET", "/shop/items", e.mint(e.corp, nil, func(c map[string]any) { c["aud"] = []string{"billing"} }), 401},
		// Subscriptions (partner validates them; corp does not).
		{"fail/partner-app-not-subscribed", "GET", "/shop/items", e.mint(e.partner, nil, func(c map[string]any) { c["azp"] = "other-app" }), 403},
		{"fail/partner-no-application", "GET", "/shop/items", e.mint(e.partner, nil, func(c map[string]any) { delete(c, "azp") }), 403},
		{"ok/corp-needs-no-subscription", "GET", "/shop/items", e.mint(e.corp, nil, func(c map[string]any) { c["azp"] = "other-app" }), 200},
		// Scope mode any (per API): one of the listed scopes is enough.
		{"ok/scope-mode-any-one-of-two", "POST", "/shop-any/items", e.mint(e.corp, nil, nil), 200},
		{"fail/scope-mode-any-none", "POST", "/shop-any/items", e.mint(e.corp, nil, func(c map[string]any) { c["scope"] = "other" }), 403},
		// Subscriptions are per API: partner-app is subscribed to shop only.
		{"fail/partner-app-not-subscribed-to-shop-any", "GET", "/shop-any/items", e.mint(e.partner, nil, nil), 403},
		// Revocation.
		{"fail/revoked-jti", "GET", "/shop/items", e.mint(e.corp, nil, func(c map[string]any) { c["jti"] = "revoked-jti" }), 401},
		// Opaque tokens are not JWTs: no credential for this scheme.
		{"fail/opaque-token", "GET", "/shop/items", "2YotnFZFEjr1zCsicMWpAA", 401},
		{"fail/google-style-token", "GET", "/shop/items", "ya29.a0AfH6SMBx-not-a-jwt", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.upstream.count()
			r := e.do(tc.method, tc.path, bearer(tc.tok))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if forwarded := e.upstream.count() > before; forwarded != (tc.status == 200) {
				t.Fatalf("upstream called: %v", forwarded)
			}
		})
	}
	// Start, plus one rate-limited refetch for corp and partner: the
	// cross-issuer tokens name a kid their claimed issuer does not have.
	// Expired, misaddressed, malformed and unknown-issuer tokens never fetch.
	for is, want := range map[*authntest.Issuer]int64{e.corp: 2, e.partner: 2, e.own: 1} {
		if n := is.JWKSFetches(); n != want {
			t.Errorf("%s: %d key set fetches, want %d", is.Issuer(), n, want)
		}
	}
	if e.partner.DiscoveryFetches() != 1 {
		t.Errorf("partner discovery fetches = %d", e.partner.DiscoveryFetches())
	}
}

// Rotation: a new kid is accepted after exactly one refetch; a flood of
// random kids causes at most one fetch per refetch interval; 100 concurrent
// requests with a new kid share one fetch.
func TestIssuerKeyRotation(t *testing.T) {
	e := newJWKSEnv(t, nil)
	old := e.mint(e.corp, nil, nil)
	if r := e.get("/shop/items", old); r.status != 200 {
		t.Fatalf("before rotation: %d", r.status)
	}
	s2 := authntest.Must(e.corp.Rotate("", true))
	if r := e.get("/shop/items", e.mint(e.corp, s2, nil)); r.status != 200 {
		t.Fatalf("new kid: %d %s", r.status, r.body)
	}
	if n := e.corp.JWKSFetches(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (start + one refetch)", n)
	}
	if r := e.get("/shop/items", old); r.status != 200 {
		t.Fatalf("old kid still published: %d", r.status)
	}

	// A flood of random kids right after: rate-limited, no fetch at all.
	for i := range 200 {
		tok := e.mint(e.corp, s2, nil, authntest.WithHeader("kid", fmt.Sprintf("random-%d", i)))
		if r := e.get("/shop/items", tok); r.status != 401 {
			t.Fatalf("random kid: %d", r.status)
		}
	}
	if n := e.corp.JWKSFetches(); n != 2 {
		t.Fatalf("fetches = %d after 200 random kids, want still 2", n)
	}

	// 100 concurrent requests with another issuer's new kid: one fetch.
	s3 := authntest.Must(e.own.Rotate("", true))
	e.own.SetDelay(100 * time.Millisecond)
	tok := e.mint(e.own, s3, nil)
	var wg sync.WaitGroup
	statuses := make(chan int, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", e.base+"/internal/jobs", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := e.client.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != 200 {
			t.Fatalf("a concurrent request got %d", st)
		}
	}
	if n := e.own.JWKSFetches(); n != 2 {
		t.Fatalf("own fetches = %d, want 2 (start + one shared refetch)", n)
	}
}

// One issuer's outage never affects another: after warm-up its known kids
// keep working and new kids are 401; an issuer down at start fails closed
// (503) for its own tokens only, shows on /readyz, and recovers by itself.
func TestIssuerOutages(t *testing.T) {
	e := newJWKSEnv(t, func(je *jwksEnv) { je.own.SetMode(authntest.ServeUnavailable) })

	corpTok := e.mint(e.corp, nil, nil)
	e.corp.SetMode(authntest.ServeClose) // down after warm-up
	if r := e.get("/shop/items", corpTok); r.status != 200 {
		t.Fatalf("known corp kid during corp's outage: %d", r.status)
	}
	s2 := authntest.Must(e.corp.Rotate("", true))
	if r := e.get("/shop/items", e.mint(e.corp, s2, nil)); r.status != 401 {
		t.Fatalf("new corp kid during corp's outage: %d, want 401", r.status)
	}
	if r := e.get("/shop/items", e.mint(e.partner, nil, nil)); r.status != 200 {
		t.Fatalf("partner during corp's outage: %d", r.status)
	}

	ownTok := e.mint(e.own, nil, nil)
	r := e.get("/internal/jobs", ownTok)
	if r.status != 503 || r.header.Get("Retry-After") != "5" {
		t.Fatalf("own, never fetched: %d (Retry-After %q), want 503", r.status, r.header.Get("Retry-After"))
	}
	// A required dependency (readiness.jwks defaults to required) is down:
	// /readyz says so and takes the replica out.
	var ready struct {
		Status       string              `json:"status"`
		Dependencies []health.Dependency `json:"dependencies"`
		Unavailable  []string            `json:"unavailable_issuers"`
		Issuers      []struct {
			Issuer    string `json:"issuer"`
			Available bool   `json:"available"`
			LastError string `json:"last_error"`
		} `json:"issuers"`
	}
	resp, err := http.Get(e.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != 503 || ready.Status != "not_ready" || strings.Join(ready.Unavailable, ",") != "own" || len(ready.Issuers) != 3 {
		t.Fatalf("readyz %d: %+v", resp.StatusCode, ready)
	}
	down := 0
	for _, d := range ready.Dependencies {
		if d.State == "down" {
			down++
			if d.Name != "jwks:own" || d.Mode != "required" || d.Error == "" {
				t.Fatalf("dependency %+v down, want only jwks:own (required, with its error)", d)
			}
		}
	}
	if down != 1 {
		t.Fatalf("%d dependencies down, want 1: %+v", down, ready.Dependencies)
	}

	// own comes back: the background retry (1s, 2s, 4s…) picks it up.
	e.own.SetMode(authntest.ServeOK)
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := e.get("/internal/jobs", ownTok)
		if r.status == 200 {
			break
		}
		if r.status != 503 || time.Now().After(deadline) {
			t.Fatalf("own after recovery: %d", r.status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if resp, err := http.Get(e.admin + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz after own recovered: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	metrics := get(t, e.admin+"/metrics")
	for _, want := range []string{`gatehouse_jwks_age_seconds{issuer="own"}`, `gatehouse_jwks_available{issuer="own"} 1`, `gatehouse_jwks_fetches_total{issuer="corp",result="failure"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// An empty, garbage or huge key set brought by a refetch keeps the old set.
func TestIssuerBadKeySetKeepsOld(t *testing.T) {
	e := newJWKSEnv(t, nil)
	cases := []struct {
		name string
		is   *authntest.Issuer
		path string
		mode authntest.Mode
	}{
		{"garbage", e.corp, "/shop/items", authntest.ServeGarbage},
		{"huge", e.partner, "/shop/items", authntest.ServeHuge},
		{"empty", e.own, "/internal/jobs", authntest.ServeNoKeys},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			known := e.mint(tc.is, nil, nil)
			tc.is.SetMode(tc.mode)
			before := tc.is.JWKSFetches()
			// A new kid makes the gateway refetch, and get the bad set.
			s := authntest.Must(tc.is.Rotate("", true))
			if r := e.get(tc.path, e.mint(tc.is, s, nil)); r.status != 401 {
				t.Fatalf("new kid with a bad set: %d", r.status)
			}
			if tc.is.JWKSFetches() != before+1 {
				t.Fatalf("no refetch happened")
			}
			if r := e.get(tc.path, known); r.status != 200 {
				t.Fatalf("the old set was replaced: %d", r.status)
			}
		})
	}
}

// Revocation takes effect as soon as the data reloads; a reload with
// unchanged issuers keeps their key sources (no refetch).
func TestRevocationOnReloadKeepsKeySources(t *testing.T) {
	e := newJWKSEnv(t, nil)
	tok := e.mint(e.corp, nil, func(c map[string]any) { c["jti"] = "to-revoke" })
	partnerTok := e.mint(e.partner, nil, nil)
	if r := e.get("/shop/items", tok); r.status != 200 {
		t.Fatalf("before: %d", r.status)
	}
	e.write("bundle/data.json", `{"gatehouse": {
		"subscriptions": {"partner": {"partner-app": [{"api": "shop", "version": "1"}]}},
		"revocations": {"jti": {"to-revoke": true}, "issued_before": {"partner": `+fmt.Sprint(time.Now().Add(time.Minute).Unix())+`}}
	}}`)
	if err := e.srv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := e.get("/shop/items", tok)
	if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("revoked jti after reload: %d %v", r.status, r.header)
	}
	if r := e.get("/shop/items", partnerTok); r.status != 401 {
		t.Fatalf("issued before the partner cutoff: %d", r.status)
	}
	if r := e.get("/shop/items", e.mint(e.corp, nil, nil)); r.status != 200 {
		t.Fatalf("another corp token: %d", r.status)
	}
	for _, is := range []*authntest.Issuer{e.corp, e.partner, e.own} {
		if is.JWKSFetches() != 1 || is.DiscoveryFetches() > 1 {
			t.Errorf("%s refetched on reload: %d key set, %d discovery", is.Issuer(), is.JWKSFetches(), is.DiscoveryFetches())
		}
	}
}
