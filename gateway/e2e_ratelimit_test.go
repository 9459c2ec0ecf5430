package gateway_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// Rate limits, with local counters and with counters in a real redis-server.
// Refill rates are tiny (one token per 100 s), so every bucket below holds
// exactly its burst for the whole test: no timing is asserted.

const rlShapes = `
openapi: 3.1.0
info: {title: Shapes, version: "1"}
x-gatehouse-base-path: /shapes
paths:
  /public:
    get: {operationId: public, security: [], responses: {"200": {description: ok}}}
  /single:
    get: {operationId: single, security: [{jwt: [read]}], responses: {"200": {description: ok}}}
  /basic:
    get: {operationId: basicOnly, security: [{basic: []}], responses: {"200": {description: ok}}}
components:
  securitySchemes:
    jwt: {type: http, scheme: bearer}
    basic: {type: http, scheme: basic}
`

const rlData = `{"gatehouse": {
  "plans": {"gold": {"requests_per_second": 0.01, "burst": 3}, "bronze": {"requests_per_second": 0.01, "burst": 1}, "silver": {"requests_per_second": 0.01, "burst": 6}},
  "config": {"default_plan": "bronze"},
  "subscriptions": {"test": {"app-gold": [{"api": "shapes", "plan": "gold"}], "app-silver": [{"api": "shapes", "plan": "silver"}]}}
}}`

// rlEnv starts a gateway with the given rate_limits block (and redis
// address, if any, for %s).
func rlEnv(t *testing.T, rateLimits string) *env {
	cfg := withFixtures(`
apis:
  - openapi: shapes.yaml
    upstream: ${UPSTREAM}
schemes:
  jwt: {type: bearer, issuers: [test]}
  basic: {type: basic, users_file: users.htpasswd}
issuers:
  - name: test
    issuer: "https://issuer.test/"
    jwks_file: issuer.jwks
    audiences: [shapes]
    claims: {application: app}
policy: {bundles: [bundle/], decision_timeout: 5s}
`, "listen") + rateLimits
	return newEnv(t, envOptions{config: cfg, files: map[string]string{
		"shapes.yaml":      rlShapes,
		"bundle/.manifest": `{"revision": "rl", "roots": ["gatehouse/plans", "gatehouse/config", "gatehouse/subscriptions"]}`,
		"bundle/data.json": rlData,
	}})
}

// clientFrom is an HTTP/1 client whose connections come from a given
// loopback address (127.0.0.0/8 is all local on Linux).
func (e *env) clientFrom(ip string) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(e.ca.Certificate)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	c := &http.Client{Transport: &http.Transport{
		DialContext:     d.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"},
	}, Timeout: 20 * time.Second}
	e.t.Cleanup(c.CloseIdleConnections)
	return c
}

type rlStep struct {
	from   string // client IP; "" = 127.0.0.1
	path   string
	header http.Header
	status int
}

func runSteps(t *testing.T, e *env, steps []rlStep) {
	t.Helper()
	for i, s := range steps {
		c := e.client
		if s.from != "" {
			c = e.clientFrom(s.from)
		}
		before := e.upstream.count()
		r := e.doWith(c, "GET", s.path, s.header)
		if r.status != s.status {
			t.Fatalf("step %d %s from %s: status %d, want %d (%s)", i, s.path, s.from, r.status, s.status, r.body)
		}
		if called := e.upstream.count() > before; called != (s.status == 200) {
			t.Fatalf("step %d: upstream called %v", i, called)
		}
		if s.status == http.StatusTooManyRequests {
			if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
				t.Fatalf("step %d: Retry-After %q", i, r.header.Get("Retry-After"))
			}
			assertProblem(t, r)
		}
	}
}

// rlBackends runs f with local counters and with a private redis-server.
func rlBackends(t *testing.T, f func(t *testing.T, redis string)) {
	t.Run("local", func(t *testing.T) { f(t, "") })
	t.Run("redis", func(t *testing.T) {
		addr := authntest.StartRedis(t)
		// a generous timeout: under -race on a loaded machine a slow call
		// would hand the decision to the local counters
		f(t, fmt.Sprintf("  redis: {address: %q, timeout: 5s}\n", addr))
	})
}

func TestRateLimitPerIP(t *testing.T) {
	rlBackends(t, func(t *testing.T, redis string) {
		e := rlEnv(t, "rate_limits:\n  per_ip: {requests_per_second: 0.01, burst: 3}\n"+redis)
		good := bearer(e.token(func(c map[string]any) { c["app"] = "app-gold"; c["client_id"] = "x" }))
		runSteps(t, e, []rlStep{
			// authenticated traffic never spends the IP's bucket (gold: 3)
			{path: "/shapes/single", header: good, status: 200},
			{path: "/shapes/single", header: good, status: 200},
			// unauthenticated traffic does: public, missing, invalid
			{path: "/shapes/public", status: 200},
			{path: "/shapes/single", status: 401},
			{path: "/shapes/single", header: bearer("not.a.token"), status: 401},
			// empty: 429 before anything is verified, valid tokens too
			{path: "/shapes/public", status: 429},
			{path: "/shapes/single", header: bearer("not.a.token"), status: 429},
			{path: "/shapes/single", header: good, status: 429},
			// another client IP is untouched
			{from: "127.0.0.2", path: "/shapes/public", status: 200},
			{from: "127.0.0.2", path: "/shapes/single", header: good, status: 200},
		})
	})
}

func TestRateLimitFailures(t *testing.T) {
	rlBackends(t, func(t *testing.T, redis string) {
		e := rlEnv(t, "rate_limits:\n  failures: {requests_per_second: 0.01, burst: 2}\n"+redis)
		runSteps(t, e, []rlStep{
			{path: "/shapes/basic", header: basic("alice", "guess-1"), status: 401},
			{path: "/shapes/basic", header: basic("alice", "guess-2"), status: 401},
			// the attacker's (IP, alice) pair is throttled before bcrypt runs
			{path: "/shapes/basic", header: basic("alice", "guess-3"), status: 429},
			{path: "/shapes/basic", header: basic("alice", testUsers["alice"]), status: 429},
			// ... but not alice herself, from anywhere else
			{from: "127.0.0.3", path: "/shapes/basic", header: basic("alice", testUsers["alice"]), status: 200},
			// nor other users from the attacker's IP (one success each: the
			// default plan, bronze, holds one request per user)
			{path: "/shapes/basic", header: basic("bob", testUsers["bob"]), status: 200},
		})
	})
}

func TestRateLimitPlans(t *testing.T) {
	rlBackends(t, func(t *testing.T, redis string) {
		rl := ""
		if redis != "" {
			rl = "rate_limits:\n" + redis
		}
		e := rlEnv(t, rl)
		gold := bearer(e.token(func(c map[string]any) { c["app"] = "app-gold" }))
		gold2 := bearer(e.token(func(c map[string]any) { c["app"] = "app-gold"; c["jti"] = "another-token" }))
		plain := bearer(e.token(func(c map[string]any) { c["app"] = "app-plain" }))
		runSteps(t, e, []rlStep{
			// subscription plan gold: 3, per application (any of its tokens)
			{path: "/shapes/single", header: gold, status: 200},
			{path: "/shapes/single", header: gold2, status: 200},
			{path: "/shapes/single", header: gold, status: 200},
			{path: "/shapes/single", header: gold2, status: 429},
			// no subscription: the default plan, bronze: 1
			{path: "/shapes/single", header: plain, status: 200},
			{path: "/shapes/single", header: plain, status: 429},
			// public traffic has no principal and no plan
			{path: "/shapes/public", status: 200},
			{path: "/shapes/public", status: 200},
		})
	})
}

// TestRateLimitSharedAcrossReplicas: two gateways on one Redis spend one
// bucket; a Redis that cannot be reached leaves the limits to local counters.
func TestRateLimitSharedAcrossReplicas(t *testing.T) {
	addr := authntest.StartRedis(t)
	rl := fmt.Sprintf("rate_limits:\n  redis: {address: %q, timeout: 5s}\n", addr)
	a, b := rlEnv(t, rl), rlEnv(t, rl)
	// one issuer key for both replicas
	b.signer = a.signer
	b.write("issuer.jwks", string(authntest.Must(authntest.JWKS(a.signer))))
	if err := b.srv.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	gold := bearer(a.token(func(c map[string]any) { c["app"] = "app-gold" }))
	for i, e := range []*env{a, b, a} {
		if r := e.do("GET", "/shapes/single", gold); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	if r := b.do("GET", "/shapes/single", gold); r.status != http.StatusTooManyRequests {
		t.Fatalf("4th request across replicas: %d, want 429", r.status)
	}

	t.Run("ok/redis-down-local-counters-decide", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		dead := ln.Addr().String()
		ln.Close()
		e := rlEnv(t, fmt.Sprintf("rate_limits:\n  redis: {address: %q, timeout: 200ms}\n", dead))
		plain := bearer(e.token(func(c map[string]any) { c["app"] = "app-plain" }))
		runSteps(t, e, []rlStep{
			{path: "/shapes/single", header: plain, status: 200},
			{path: "/shapes/single", header: plain, status: 429},
		})
		resp, err := http.Get(e.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		_, _ = fmt.Fprint(&sb, readAll(resp))
		if !strings.Contains(sb.String(), "gatehouse_ratelimit_store_errors_total") {
			t.Errorf("metrics lack the store error counter")
		}
	})
}

func readAll(resp *http.Response) string {
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// TestRateLimitTrustedProxy: behind a trusted load balancer the client is
// the rightmost untrusted X-Forwarded-For address; from anyone else the
// header is ignored.
func TestRateLimitTrustedProxy(t *testing.T) {
	e := rlEnv(t, "rate_limits:\n  per_ip: {requests_per_second: 0.01, burst: 2}\n  trusted_proxies: [127.0.0.1/32, 10.0.0.0/8]\n")
	xff := func(v string) http.Header { return hdr("X-Forwarded-For", v) }
	runSteps(t, e, []rlStep{
		{path: "/shapes/public", header: xff("6.6.6.6, 1.1.1.1"), status: 200},
		{path: "/shapes/public", header: xff("7.7.7.7, 1.1.1.1, 10.1.2.3"), status: 200},
		{path: "/shapes/public", header: xff("1.1.1.1"), status: 429},
		{path: "/shapes/public", header: xff("2.2.2.2"), status: 200},
		// 127.0.0.2 is not trusted: its X-Forwarded-For means nothing
		{from: "127.0.0.2", path: "/shapes/public", header: xff("2.2.2.2"), status: 200},
		{from: "127.0.0.2", path: "/shapes/public", header: xff("3.3.3.3"), status: 200},
		{from: "127.0.0.2", path: "/shapes/public", header: xff("4.4.4.4"), status: 429},
	})
}
