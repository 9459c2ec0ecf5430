package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/gateway/health"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// DPoP (RFC 9449) and confirmation claims through the real server: a JWT
// issuer (the env's) and an introspection key manager (corp) serve three
// bearer schemes: oauth (dpop: allowed) on /shop, strict (dpop: required)
// on /strict, plain (dpop off) on /plain. A user rule requires a DPoP
// binding for addItem and echoes the bound key's thumbprint upstream, to
// show the identity document records it.
var dpopConfig = withFixtures(`
apis:
  - {openapi: shop.yaml, upstream: "${UPSTREAM}"}
  - {openapi: strict.yaml, upstream: "${UPSTREAM}"}
  - {openapi: plain.yaml, upstream: "${UPSTREAM}"}
schemes:
  oauth: {type: bearer, issuers: [test], key_managers: [corp], dpop: allowed}
  strict: {type: bearer, issuers: [test], dpop: required}
  plain: {type: bearer, issuers: [test], key_managers: [corp]}
key_managers:
  - name: corp
    introspection_url: "${CORP}"
    client_id: gateway
    client_secret: file:corp.secret
    token_prefix: corp_
${DPOP}policy:
  bundles: [bundle/]
`, "listen", "issuer")

const dpopStrictDoc = `
openapi: 3.0.3
info: {title: Strict, version: "1"}
x-gatehouse-base-path: /strict
security: [{strict: []}]
paths:
  /items:
    get: {operationId: strictItems, responses: {"200": {description: ok}}}
components:
  securitySchemes:
    strict: {type: http, scheme: bearer}
`

const dpopPlainDoc = `
openapi: 3.0.3
info: {title: Plain, version: "1"}
x-gatehouse-base-path: /plain
security: [{plain: []}]
paths:
  /items:
    get: {operationId: plainItems, responses: {"200": {description: ok}}}
components:
  securitySchemes:
    plain: {type: http, scheme: bearer}
`

const dpopRego = `package gatehouse.custom

deny contains {"reason": "dpop_binding_required", "status": 403} if {
	input.operation.id == "addItem"
	some cred in input.credentials
	not cred.cnf.method == "dpop"
}

headers := {"x-dpop-jkt": cred.cnf.jkt} if {
	some cred in input.credentials
	cred.cnf.method == "dpop"
}
`

type dpopEnv struct {
	*env
	corp *authntest.Introspector
}

// newDPoPEnv starts the gateway; dpopSection is the top-level dpop config
// (with a trailing newline) or "".
func newDPoPEnv(t *testing.T, dpopSection string, files map[string]string) *dpopEnv {
	corp := authntest.NewIntrospector(t, authntest.WithClientSecret("gateway", "corp-km-secret-d7"))
	cfg := strings.NewReplacer("${CORP}", corp.URL(), "${DPOP}", dpopSection).Replace(dpopConfig)
	all := map[string]string{
		"shop.yaml":          shopDoc,
		"strict.yaml":        dpopStrictDoc,
		"plain.yaml":         dpopPlainDoc,
		"corp.secret":        "corp-km-secret-d7",
		"bundle/data.json":   `{"gatehouse": {}}`,
		"bundle/custom.rego": dpopRego,
	}
	for k, v := range files {
		all[k] = v
	}
	return &dpopEnv{env: newEnv(t, envOptions{config: cfg, files: all}), corp: corp}
}

// boundToken is a JWT of the env's issuer bound to client's key.
func (e *dpopEnv) boundToken(client *authntest.Signer, scope string) string {
	return e.token(func(c map[string]any) {
		c["scope"] = scope
		c["cnf"] = map[string]any{"jkt": client.JKT()}
	})
}

// send sends one request with the given Host (empty: the listener's).
func (e *env) send(method, path, host string, h http.Header) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	req.Header = h
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func dpopHeaders(tok, proof string) http.Header {
	h := hdr("Authorization", "DPoP "+tok)
	if proof != "" {
		h.Set("DPoP", proof)
	}
	return h
}

func TestDPoPEndToEnd(t *testing.T) {
	t.Parallel()
	e := newDPoPEnv(t, "", nil)
	es := authntest.Must(authntest.NewSigner("ES256"))
	rs := authntest.Must(authntest.NewSigner("RS256"))
	ed := authntest.Must(authntest.NewSigner("EdDSA"))
	other := authntest.Must(authntest.NewSigner("ES256"))
	url := func(p string) string { return e.base + p }
	unbound := e.token(nil)
	esTok := e.boundToken(es, "read write")
	opaque := "corp_" + strings.Repeat("b", 20)
	e.corp.Set(opaque, map[string]any{"active": true, "scope": "read", "client_id": "app-1", "sub": "alice", "exp": authntest.Exp(time.Hour), "cnf": map[string]any{"jkt": es.JKT()}})
	proof := func(s *authntest.Signer, method, target, tok string, opts ...authntest.ProofOption) string {
		return authntest.Must(s.DPoPProof(method, target, tok, opts...))
	}
	replayed := proof(es, "GET", url("/shop/items"), esTok)

	cases := []struct {
		name      string
		method    string
		path      string
		header    func() http.Header
		status    int
		challenge string // a substring of the WWW-Authenticate values
		jkt       string // the binding the policy saw (x-dpop-jkt upstream)
	}{
		{name: "ok/es256", path: "/shop/items", header: func() http.Header { return dpopHeaders(esTok, proof(es, "GET", url("/shop/items"), esTok)) }, status: 200, jkt: es.JKT()},
		{name: "ok/rs256", path: "/shop/items", header: func() http.Header {
			tok := e.boundToken(rs, "read")
			return dpopHeaders(tok, proof(rs, "GET", url("/shop/items"), tok))
		}, status: 200, jkt: rs.JKT()},
		{name: "ok/eddsa", path: "/strict/items", header: func() http.Header {
			tok := e.boundToken(ed, "read")
			return dpopHeaders(tok, proof(ed, "GET", url("/strict/items"), tok))
		}, status: 200, jkt: ed.JKT()},
		{name: "ok/post_binding_required_by_policy", method: "POST", path: "/shop/items", header: func() http.Header {
			return dpopHeaders(esTok, proof(es, "POST", url("/shop/items"), esTok))
		}, status: 200, jkt: es.JKT()},
		{name: "ok/introspected_bound_token", path: "/shop/items", header: func() http.Header { return dpopHeaders(opaque, proof(es, "GET", url("/shop/items"), opaque)) }, status: 200, jkt: es.JKT()},
		{name: "ok/unbound_bearer_where_allowed", path: "/shop/items", header: func() http.Header { return bearer(unbound) }, status: 200},
		{name: "fail/policy_requires_dpop_for_post", method: "POST", path: "/shop/items", header: func() http.Header { return bearer(e.token(func(c map[string]any) { c["scope"] = "read write" })) }, status: 403},

		{name: "ok/replay_first_use", path: "/shop/items", header: func() http.Header { return dpopHeaders(esTok, replayed) }, status: 200, jkt: es.JKT()},
		{name: "fail/replay", path: "/shop/items", header: func() http.Header { return dpopHeaders(esTok, replayed) }, status: 401, challenge: `error="invalid_dpop_proof"`},
		{name: "fail/wrong_htu", path: "/shop/items", header: func() http.Header { return dpopHeaders(esTok, proof(es, "GET", url("/strict/items"), esTok)) }, status: 401, challenge: `error="invalid_dpop_proof"`},
		{name: "fail/wrong_htm", path: "/shop/items", header: func() http.Header { return dpopHeaders(esTok, proof(es, "POST", url("/shop/items"), esTok)) }, status: 401, challenge: `error="invalid_dpop_proof"`},
		{name: "fail/stale_iat", path: "/shop/items", header: func() http.Header {
			return dpopHeaders(esTok, proof(es, "GET", url("/shop/items"), esTok, authntest.ProofClaim("iat", time.Now().Add(-5*time.Minute).Unix())))
		}, status: 401, challenge: `error="invalid_dpop_proof"`},
		{name: "fail/wrong_ath", path: "/shop/items", header: func() http.Header { return dpopHeaders(esTok, proof(es, "GET", url("/shop/items"), unbound)) }, status: 401, challenge: `error="invalid_dpop_proof"`},
		{name: "fail/private_key_in_proof", path: "/shop/items", header: func() http.Header {
			return dpopHeaders(esTok, proof(es, "GET", url("/shop/items"), esTok, authntest.ProofHeader("jwk", authntest.Must(es.PrivateJWKMap()))))
		}, status: 401, challenge: `error="invalid_dpop_proof"`},
		{name: "fail/signed_with_another_key", path: "/shop/items", header: func() http.Header { return dpopHeaders(esTok, proof(other, "GET", url("/shop/items"), esTok)) }, status: 401, challenge: `error="invalid_dpop_proof"`},
		{name: "fail/no_proof", path: "/shop/items", header: func() http.Header { return dpopHeaders(esTok, "") }, status: 401, challenge: `error="invalid_dpop_proof"`},
		{name: "fail/bound_token_as_bearer", path: "/shop/items", header: func() http.Header { return bearer(esTok) }, status: 401, challenge: `error="invalid_token"`},
		{name: "fail/bound_introspected_as_bearer", path: "/shop/items", header: func() http.Header { return bearer(opaque) }, status: 401},
		{name: "fail/bearer_token_with_dpop_when_required", path: "/strict/items", header: func() http.Header { return dpopHeaders(unbound, proof(es, "GET", url("/strict/items"), unbound)) }, status: 401},
		{name: "fail/bearer_scheme_when_required", path: "/strict/items", header: func() http.Header { return bearer(unbound) }, status: 401, challenge: `DPoP realm=`},

		// Point 1: confirmation claims the gateway does not verify.
		{name: "fail/bound_token_where_dpop_off", path: "/plain/items", header: func() http.Header { return bearer(esTok) }, status: 401},
		{name: "fail/dpop_scheme_where_dpop_off", path: "/plain/items", header: func() http.Header { return dpopHeaders(esTok, proof(es, "GET", url("/plain/items"), esTok)) }, status: 401},
		{name: "fail/cnf_unknown_member", path: "/plain/items", header: func() http.Header {
			return bearer(e.token(func(c map[string]any) { c["cnf"] = map[string]any{"kid": "k-7"} }))
		}, status: 401},
		{name: "fail/cnf_not_an_object", path: "/plain/items", header: func() http.Header {
			return bearer(e.token(func(c map[string]any) { c["cnf"] = "x" }))
		}, status: 401},
		{name: "fail/cnf_x5t_without_certificate", path: "/plain/items", header: func() http.Header {
			return bearer(e.token(func(c map[string]any) { c["cnf"] = map[string]any{"x5t#S256": "bm90LWEtY2VydA"} }))
		}, status: 401},
		{name: "fail/introspection_cnf_unknown_member", path: "/plain/items", header: func() http.Header {
			tok := "corp_" + strings.Repeat("u", 20)
			e.corp.Set(tok, map[string]any{"active": true, "scope": "read", "sub": "alice", "exp": authntest.Exp(time.Hour), "cnf": map[string]any{"x5t#S512": "abc"}})
			return bearer(tok)
		}, status: 401},
	}
	for _, c := range cases { // in order: the replay case follows its first use
		t.Run(c.name, func(t *testing.T) {
			method := c.method
			if method == "" {
				method = "GET"
			}
			before := e.upstream.count()
			resp := e.send(method, c.path, "", c.header())
			if resp.status != c.status {
				t.Fatalf("status %d, want %d; WWW-Authenticate %q; body %s", resp.status, c.status, resp.header.Values("WWW-Authenticate"), resp.body)
			}
			forwarded := e.upstream.count() > before
			if forwarded != (c.status == 200) {
				t.Fatalf("forwarded upstream: %v", forwarded)
			}
			if c.status == 200 {
				last := e.upstream.last()
				if last.Header.Get("DPoP") != "" || last.Header.Get("Authorization") != "" {
					t.Fatal("the proof or the token reached the upstream")
				}
				if got := last.Header.Get("X-Dpop-Jkt"); got != c.jkt {
					t.Fatalf("upstream x-dpop-jkt %q, want %q (the bound key's thumbprint)", got, c.jkt)
				}
			}
			if c.challenge != "" && !strings.Contains(strings.Join(resp.header.Values("WWW-Authenticate"), "\n"), c.challenge) {
				t.Fatalf("WWW-Authenticate %q lacks %s", resp.header.Values("WWW-Authenticate"), c.challenge)
			}
		})
	}

	t.Run("challenge/algs", func(t *testing.T) {
		resp := e.send("GET", "/shop/items", "", nil)
		got := strings.Join(resp.header.Values("WWW-Authenticate"), "\n")
		if resp.status != 401 || !strings.Contains(got, `Bearer realm=`) || !strings.Contains(got, `DPoP realm=`) || !strings.Contains(got, `algs="`) || !strings.Contains(got, "ES256") {
			t.Fatalf("status %d, challenges %q", resp.status, got)
		}
		strict := strings.Join(e.send("GET", "/strict/items", "", nil).header.Values("WWW-Authenticate"), "\n")
		if strings.Contains(strict, "Bearer") || !strings.Contains(strict, "DPoP") {
			t.Fatalf("a DPoP-required scheme challenges %q", strict)
		}
	})
	t.Run("no_secret_in_logs", func(t *testing.T) {
		logs := e.logs.String()
		for _, s := range []string{esTok, replayed, opaque} {
			if strings.Contains(logs, s) {
				t.Fatal("a token or proof reached the logs")
			}
		}
	})
}

// TestDPoPNonce: with nonces on, a proof without one is refused with
// use_dpop_nonce and a DPoP-Nonce; the client retries with it and passes.
func TestDPoPNonce(t *testing.T) {
	t.Parallel()
	e := newDPoPEnv(t, "dpop: {nonce: true, algorithms: [ES256, EdDSA]}\n", nil)
	es := authntest.Must(authntest.NewSigner("ES256"))
	tok := e.boundToken(es, "read")
	target := e.base + "/shop/items"

	first := e.send("GET", "/shop/items", "", dpopHeaders(tok, authntest.Must(es.DPoPProof("GET", target, tok))))
	nonce := first.header.Get("DPoP-Nonce")
	ch := strings.Join(first.header.Values("WWW-Authenticate"), "\n")
	if first.status != 401 || nonce == "" || !strings.Contains(ch, `error="use_dpop_nonce"`) || !strings.Contains(ch, `algs="ES256 EdDSA"`) {
		t.Fatalf("without a nonce: status %d, DPoP-Nonce %q, challenges %q", first.status, nonce, ch)
	}
	for _, c := range []struct {
		name   string
		nonce  string
		status int
	}{
		{"fail/forged_nonce", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 401},
		{"ok/server_nonce", nonce, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := authntest.Must(es.DPoPProof("GET", target, tok, authntest.ProofClaim("nonce", c.nonce)))
			if resp := e.send("GET", "/shop/items", "", dpopHeaders(tok, p)); resp.status != c.status {
				t.Fatalf("status %d, want %d (%q)", resp.status, c.status, resp.header.Values("WWW-Authenticate"))
			}
		})
	}
}

// TestDPoPReplayAcrossReplicas: two gateway processes sharing a real Redis
// replay cache (and one issuer key, one public host name): a proof used at
// one is refused at the other, with the cache on one node and behind a
// Sentinel (the same universal client as the rate limits and token store).
func TestDPoPReplayAcrossReplicas(t *testing.T) {
	t.Parallel()
	for _, topo := range []struct {
		name    string
		section func(t *testing.T) string
	}{
		{"single", func(t *testing.T) string {
			return "dpop: {redis: {address: \"" + authntest.StartRedis(t) + "\"}}\n"
		}},
		{"sentinel", func(t *testing.T) string {
			master := redistest.Start(t, redistest.Options{})
			sentinel := redistest.StartSentinel(t, master, "dpop")
			return "dpop: {redis: {master_name: dpop, addresses: [\"" + sentinel.Address() + "\"]}}\n"
		}},
	} {
		t.Run(topo.name, func(t *testing.T) {
			t.Parallel()
			testDPoPReplayAcrossReplicas(t, topo.section(t))
		})
	}
}

func testDPoPReplayAcrossReplicas(t *testing.T, section string) {
	a := newDPoPEnv(t, section, nil)
	b := newDPoPEnv(t, section, map[string]string{"issuer.jwks": string(authntest.Must(authntest.JWKS(a.signer)))})
	es := authntest.Must(authntest.NewSigner("ES256"))
	tok := a.boundToken(es, "read")
	const host = "api.gatehouse.test"
	target := "https://" + host + "/shop/items"
	proof := authntest.Must(es.DPoPProof("GET", target, tok))
	for _, c := range []struct {
		name   string
		gw     *dpopEnv
		proof  string
		status int
	}{
		{"ok/first_use_at_a", a, proof, 200},
		{"fail/replay_at_b", b, proof, 401},
		{"fail/replay_at_a", a, proof, 401},
		{"ok/fresh_proof_at_b", b, authntest.Must(es.DPoPProof("GET", target, tok)), 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			if resp := c.gw.send("GET", "/shop/items", host, dpopHeaders(tok, c.proof)); resp.status != c.status {
				t.Fatalf("status %d, want %d (%q)", resp.status, c.status, resp.header.Values("WWW-Authenticate"))
			}
		})
	}
}

// TestDPoPReplayCacheReadiness: /readyz names the DPoP replay cache's
// Redis; while it is down DPoP requests fail closed and the replica is not
// ready (readiness.redis: required, the default), and both recover when
// it returns.
func TestDPoPReplayCacheReadiness(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t, redistest.Options{})
	e := newDPoPEnv(t, "dpop: {redis: {address: \""+rs.Address()+"\", timeout: 200ms}}\n", nil)
	es := authntest.Must(authntest.NewSigner("ES256"))
	tok := e.boundToken(es, "read")
	const host = "api.gatehouse.test"
	target := "https://" + host + "/shop/items"
	state := func() (int, health.Dependency) {
		resp, err := http.Get(e.admin + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc struct {
			Dependencies []health.Dependency `json:"dependencies"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		for _, d := range doc.Dependencies {
			if d.Name == "redis:dpop" {
				return resp.StatusCode, d
			}
		}
		t.Fatalf("readyz %d lists no redis:dpop: %+v", resp.StatusCode, doc.Dependencies)
		return 0, health.Dependency{}
	}
	for _, step := range []struct {
		name   string
		act    func()
		ready  int
		dep    string
		status int
	}{
		{"up", func() {}, 200, "up", 200},
		{"redis_down", rs.Stop, 503, "down", 503},
		{"redis_back", rs.Restart, 200, "up", 200},
	} {
		t.Run(step.name, func(t *testing.T) {
			step.act()
			e.waitFor("readyz "+step.name, func() bool {
				code, d := state()
				return code == step.ready && d.State == step.dep && d.Mode == "required" && d.Kind == "redis"
			})
			proof := authntest.Must(es.DPoPProof("GET", target, tok))
			if resp := e.send("GET", "/shop/items", host, dpopHeaders(tok, proof)); resp.status != step.status {
				t.Fatalf("DPoP request: status %d, want %d", resp.status, step.status)
			}
		})
	}
}
