package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// hostileEnv is the core env (shapes + bare APIs, JWT and Basic) with small
// limits, so oversized and slow requests are cheap to send.
func hostileEnv(t *testing.T) *env { return hostileEnvWith(t, "") }

// hostileEnvWith is hostileEnv with more top-level config appended.
func hostileEnvWith(t *testing.T, extra string) *env {
	cfg := strings.Replace(coreConfig, "  tls: {cert_file: server.pem, key_file: server-key.pem}\n",
		"  tls: {cert_file: server.pem, key_file: server-key.pem}\n  max_header_bytes: 8192\n  read_header_timeout: 1s\n", 1)
	cfg = strings.Replace(cfg, "    upstream: ${UPSTREAM}/backend\n", "    upstream: ${UPSTREAM}/backend\n    max_body_bytes: 2048\n", 1)
	cfg = strings.Replace(cfg, "  bundles: [bundle/]\n", "  bundles: [bundle/]\n  decision_timeout: 5s # -race on a loaded machine\n", 1)
	cfg += "limits: {max_body_bytes: 4096, max_token_bytes: 4096}\n" + extra
	return newEnv(t, envOptions{
		config: cfg,
		files: map[string]string{
			"shapes.yaml":      shapesDoc,
			"bare.yaml":        bareDoc,
			"bundle/.manifest": `{"revision": "hostile", "roots": ["gatehouse/revocations"]}`,
			"bundle/data.json": `{"gatehouse": {"revocations": {"jti": {}}}}`,
		},
	})
}

// hostileCase is one hand-written request: the status it must get, and the
// path the upstream must have received ("" = the upstream must not be called).
type hostileCase struct {
	name   string
	req    string // readable form; "\n" becomes CRLF unless raw is set
	raw    bool
	method string
	status int
	upPath string
	// mayReach: the upstream may or may not see the request (a body cut
	// short in flight); if it does, upPath and check apply.
	mayReach bool
	check    func(t *testing.T, got recorded)
	// challenge, when set, is the WWW-Authenticate the answer must carry
	// ("-" for none); reason, when set, the audit line's reason.
	challenge string
	reason    string
}

func runHostile(t *testing.T, e *env, cases []hostileCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			if !tc.raw {
				req = crlf(req)
			}
			method := tc.method
			if method == "" {
				method = strings.SplitN(req, " ", 2)[0]
			}
			before := e.upstream.count()
			resp := e.raw(req, method)
			if resp.status != tc.status {
				t.Fatalf("status = %d (err %v), want %d; body %s", resp.status, resp.err, tc.status, resp.body)
			}
			if tc.challenge != "" {
				got := strings.Join(resp.header.Values("WWW-Authenticate"), " | ")
				if want := strings.TrimPrefix(tc.challenge, "-"); got != want {
					t.Errorf("WWW-Authenticate = %q, want %q", got, want)
				}
			}
			if tc.reason != "" {
				if got := e.auditReasons(t, resp.body); !slices.Contains(got, tc.reason) {
					t.Errorf("audit reasons %v, want %q", got, tc.reason)
				}
			}
			called := e.upstream.count() > before
			if tc.mayReach && !called {
				return
			}
			if called != (tc.upPath != "") {
				t.Fatalf("upstream called = %v, want %v", called, tc.upPath != "")
			}
			if !called {
				return
			}
			got := e.upstream.last()
			if got.Path != tc.upPath {
				t.Fatalf("upstream got path %q, want %q (authorized and forwarded must be one path)", got.Path, tc.upPath)
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

// auditReasons finds the audit line of the request whose problem body is
// body and returns its reasons.
func (e *env) auditReasons(t *testing.T, body []byte) []string {
	t.Helper()
	var p struct {
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.RequestID == "" {
		t.Fatalf("answer is not a problem document with a request id: %s", body)
	}
	var found []string
	eventually(t, "audit line of "+p.RequestID, func() bool {
		sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct {
				RequestID string   `json:"request_id"`
				Reasons   []string `json:"reasons"`
				Status    int      `json:"status"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.RequestID == p.RequestID && line.Status != 0 {
				found = line.Reasons
				return true
			}
		}
		return false
	})
	return found
}

// TestHostilePaths: traversal and encoding variants over raw TCP. Every
// request either reaches the one operation its normalized path names, with
// exactly that path forwarded, or stops at the gateway (400/404).
func TestHostilePaths(t *testing.T) {
	t.Parallel()
	e := hostileEnv(t)
	tok := e.token(nil)
	get := func(target string, extra ...string) string {
		return "GET " + target + " HTTP/1.1\nHost: localhost\n" + strings.Join(extra, "") + "\n"
	}
	auth := "Authorization: Bearer " + tok + "\n"
	cases := []hostileCase{
		{name: "ok/plain-public", req: get("/shapes/public"), status: 200, upPath: "/backend/public"},
		{name: "ok/dot-segment-inside-api", req: get("/shapes/x/../public"), status: 200, upPath: "/backend/public"},
		{name: "ok/encoded-dot-segments-inside-api", req: get("/shapes/x/%2e%2E/public"), status: 200, upPath: "/backend/public"},
		{name: "ok/single-dot", req: get("/shapes/./public"), status: 200, upPath: "/backend/public"},
		{name: "ok/encoded-unreserved", req: get("/shapes/%70ublic"), status: 200, upPath: "/backend/public"},
		// a dot segment that lands on a protected route is authorized as it
		{name: "fail/dot-segment-onto-protected-route", req: get("/shapes/public/../single"), status: 401},
		{name: "ok/dot-segment-onto-protected-route-with-token", req: get("/shapes/public/../single", auth), status: 200, upPath: "/backend/single"},
		// traversal out of the base path, or above the root
		{name: "fail/dotdot-into-other-api", req: get("/shapes/../bare/nothing"), status: 400},
		{name: "fail/dotdot-out-and-back", req: get("/shapes/../shapes/public"), status: 400},
		{name: "fail/dotdot-above-root", req: get("/../shapes/public"), status: 400},
		{name: "fail/encoded-dotdot-above-root", req: get("/%2e%2e/%2e%2e/etc/passwd"), status: 400},
		// separators and bytes whose meaning depends on the decoder
		{name: "fail/encoded-slash", req: get("/shapes%2Fpublic"), status: 400},
		{name: "fail/encoded-slash-into-template", req: get("/shapes/items/1%2Fadmin"), status: 400},
		{name: "fail/encoded-backslash", req: get("/shapes/public%5C..%5Csingle"), status: 400},
		{name: "fail/raw-backslash", req: get("/shapes/public\\..\\single"), status: 400},
		{name: "fail/encoded-nul", req: get("/shapes/public%00.json"), status: 400},
		{name: "fail/double-encoded-slash", req: get("/shapes%252Fpublic"), status: 400},
		{name: "fail/double-encoded-dotdot", req: get("/shapes/public/%252e%252e/single"), status: 400},
		{name: "fail/overlong-utf8-dot", req: get("/shapes/%c0%ae%c0%ae/single"), status: 400},
		{name: "fail/tomcat-path-parameter-dotdot", req: get("/shapes/public/..;/single"), status: 400},
		{name: "fail/tomcat-dot-parameter", req: get("/shapes/.;/single"), status: 400},
		{name: "fail/windows-dotdot-space", req: get("/shapes/public/..%20/single"), status: 400},
		{name: "fail/three-dots", req: get("/shapes/public/.../single"), status: 400},
		{name: "fail/leading-double-slash", req: get("//shapes/public"), status: 400},
		{name: "fail/inner-double-slash", req: get("/shapes//public"), status: 400},
		{name: "fail/asterisk-form", req: get("*"), status: 400},
		// forms that are data: one operation or none, never a weaker one
		{name: "fail/trailing-slash-404", req: get("/shapes/public/"), status: 404},
		{name: "fail/upper-case-404", req: get("/SHAPES/public"), status: 404},
		{name: "fail/matrix-params-404", req: get("/shapes/public;jsessionid=1"), status: 404},
		{name: "fail/trailing-dot-404", req: get("/shapes/public."), status: 404},
		{name: "fail/trailing-space-404", req: get("/shapes/public%20"), status: 404},
		{name: "fail/trailing-dot-protected-404", req: get("/shapes/single."), status: 404},
		{name: "fail/param-in-template-still-protected", req: get("/shapes/items/1;x=..%2f"), status: 400},
		{name: "fail/template-with-params-needs-token", req: get("/shapes/items/1;x=y"), status: 401},
		{name: "ok/template-with-params", req: get("/shapes/items/1;x=y", auth), status: 200, upPath: "/backend/items/1;x=y"},
		// absolute-form: only for the connection's own server name
		{name: "fail/absolute-form-other-host", req: get("https://evil.example/shapes/public"), status: 400},
		{name: "ok/absolute-form-own-host", req: get("https://localhost/shapes/public"), status: 200, upPath: "/backend/public"},
		{name: "fail/absolute-form-dotdot", req: get("https://localhost/shapes/../bare/nothing"), status: 400},
	}
	runHostile(t, e, cases)
}

// TestHostileMethods: method overrides are stripped, HEAD follows GET's
// security, unknown methods get 405.
func TestHostileMethods(t *testing.T) {
	t.Parallel()
	e := hostileEnv(t)
	tok := e.token(nil)
	noOverride := func(t *testing.T, got recorded) {
		for _, h := range []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"} {
			if v := got.Header.Get(h); v != "" {
				t.Errorf("%s reached the upstream: %q", h, v)
			}
		}
		if got.Method != "GET" {
			t.Errorf("upstream method %s, want GET", got.Method)
		}
	}
	cases := []hostileCase{
		{name: "ok/override-headers-stripped", req: "GET /shapes/public HTTP/1.1\nHost: localhost\nX-HTTP-Method-Override: DELETE\nX-HTTP-Method: DELETE\nX-Method-Override: PUT\n\n",
			status: 200, upPath: "/backend/public", check: noOverride},
		{name: "fail/override-does-not-change-the-operation", req: "GET /shapes/single HTTP/1.1\nHost: localhost\nX-HTTP-Method-Override: POST\nAuthorization: Bearer " + tok + "\n\n",
			status: 200, upPath: "/backend/single", check: noOverride},
		{name: "fail/head-needs-get-credentials", req: "HEAD /shapes/single HTTP/1.1\nHost: localhost\n\n", status: 401},
		{name: "ok/head-with-credentials", req: "HEAD /shapes/single HTTP/1.1\nHost: localhost\nAuthorization: Bearer " + tok + "\n\n", status: 200, upPath: "/backend/single"},
		{name: "fail/unknown-method", req: "PURGE /shapes/public HTTP/1.1\nHost: localhost\n\n", status: 405},
		{name: "fail/trace", req: "TRACE /shapes/public HTTP/1.1\nHost: localhost\n\n", status: 405},
		{name: "fail/connect", req: "CONNECT localhost:443 HTTP/1.1\nHost: localhost:443\n\n", status: 400},
	}
	runHostile(t, e, cases)
}

// TestHostileHeaders: spoofed identity and forwarding headers never reach
// the upstream (public routes too); headers named in Connection cannot drop
// what the gateway adds; upgrades are not forwarded where not allowed;
// framing the server must refuse is refused.
func TestHostileHeaders(t *testing.T) {
	t.Parallel()
	e := hostileEnv(t)
	tok := e.token(nil)
	spoofed := []string{
		"X-JWT-Assertion", "X-Forwarded-Client-Cert", "Client-Cert", "Client-Cert-Chain", "X-SSL-Client-Cert",
		"X-Consumer-Id", "X-Consumer-Username", "X-Gatehouse-Subject", "X-Forwarded-User", "X-Remote-User",
		"X-Real-IP", "True-Client-IP", "X-Original-URL", "X-Rewrite-URL", "Forwarded", "X-Forwarded-Host",
		"X-Forwarded-Proto", "X-Forwarded-Prefix", "X-Envoy-Original-Path", "X-Amzn-Oidc-Identity", "X-Ms-Client-Principal-Name",
	}
	var spoof strings.Builder
	for _, h := range spoofed {
		spoof.WriteString(h + ": forged\n")
	}
	spoof.WriteString("X-Forwarded-For: 6.6.6.6\n")
	noSpoof := func(t *testing.T, got recorded) {
		for _, h := range spoofed {
			if v := got.Header.Get(h); v == "forged" {
				t.Errorf("client-sent %s reached the upstream", h)
			}
		}
		if xff := got.Header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
			t.Errorf("X-Forwarded-For = %q, want the peer only", xff)
		}
	}
	gatewayHeaders := func(assertion bool) func(t *testing.T, got recorded) {
		return func(t *testing.T, got recorded) {
			noSpoof(t, got)
			if got.Header.Get("X-Request-Id") == "" {
				t.Errorf("X-Request-Id dropped")
			}
			if a := got.Header.Get("X-JWT-Assertion"); assertion && (a == "" || a == "forged") {
				t.Errorf("assertion = %q", a)
			}
		}
	}
	noUpgrade := func(t *testing.T, got recorded) {
		for _, h := range []string{"Upgrade", "Http2-Settings"} {
			if v := got.Header.Get(h); v != "" {
				t.Errorf("%s forwarded: %q", h, v)
			}
		}
	}
	cases := []hostileCase{
		{name: "ok/spoofed-identity-public-route", req: "GET /shapes/public HTTP/1.1\nHost: localhost\n" + spoof.String() + "\n",
			status: 200, upPath: "/backend/public", check: gatewayHeaders(false)},
		{name: "ok/spoofed-identity-protected-route", req: "GET /shapes/single HTTP/1.1\nHost: localhost\nAuthorization: Bearer " + tok + "\n" + spoof.String() + "\n",
			status: 200, upPath: "/backend/single", check: gatewayHeaders(true)},
		{name: "ok/connection-names-gateway-headers", req: "GET /shapes/single HTTP/1.1\nHost: localhost\nAuthorization: Bearer " + tok +
			"\nConnection: keep-alive, X-JWT-Assertion, X-Request-Id, X-Forwarded-For\n\n",
			status: 200, upPath: "/backend/single", check: gatewayHeaders(true)},
		{name: "ok/h2c-upgrade-not-forwarded", req: "GET /shapes/public HTTP/1.1\nHost: localhost\nConnection: Upgrade, HTTP2-Settings\nUpgrade: h2c\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\n\n",
			status: 200, upPath: "/backend/public", check: noUpgrade},
		{name: "ok/websocket-upgrade-not-forwarded-without-websockets", req: "GET /shapes/public HTTP/1.1\nHost: localhost\nConnection: Upgrade\nUpgrade: websocket\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n\n",
			status: 200, upPath: "/backend/public", check: noUpgrade},
		{name: "fail/duplicate-host", req: "GET /shapes/public HTTP/1.1\nHost: localhost\nHost: evil.example\n\n", status: 400},
		{name: "fail/missing-host", req: "GET /shapes/public HTTP/1.1\n\n", status: 400},
		{name: "fail/duplicate-content-length", req: "POST /shapes/single HTTP/1.1\nHost: localhost\nContent-Length: 3\nContent-Length: 4\n\nabcd", status: 400},
		{name: "fail/space-before-colon", req: "POST /shapes/single HTTP/1.1\nHost: localhost\nTransfer-Encoding : chunked\n\n0\n\n", status: 400},
		{name: "fail/unknown-transfer-coding", req: "POST /shapes/single HTTP/1.1\nHost: localhost\nTransfer-Encoding: chunked, identity\n\n0\n\n", status: 501},
		{name: "fail/nul-in-header", req: "GET /shapes/public HTTP/1.1\nHost: localhost\nX-A: a\x00b\n\n", status: 400},
	}
	runHostile(t, e, cases)
}

// TestHostileLimits: oversized headers, credentials and bodies stop at the
// gateway before any verification.
func TestHostileLimits(t *testing.T) {
	t.Parallel()
	e := hostileEnv(t)
	writer := e.token(func(c map[string]any) { c["scope"] = "read write" })
	big := strings.Repeat("a", 5000)
	post := func(extra, body string) string {
		return "POST /shapes/single HTTP/1.1\nHost: localhost\n" + extra + "\n" + body
	}
	chunked := func(n int) string {
		return "POST /shapes/single HTTP/1.1\nHost: localhost\nAuthorization: Bearer " + writer + "\nTransfer-Encoding: chunked\n\n" +
			fmt.Sprintf("%x\n%s\n0\n\n", n, strings.Repeat("b", n))
	}
	bodyCut := func(t *testing.T, got recorded) {
		if got.BodyErr == nil {
			t.Errorf("upstream read a whole body of %d bytes, past the limit", got.Body)
		}
	}
	cases := []hostileCase{
		{name: "fail/headers-too-large", req: "GET /shapes/public HTTP/1.1\nHost: localhost\nX-Big: " + strings.Repeat("x", 16<<10) + "\n\n", status: 431},
		{name: "fail/token-too-large", req: "GET /shapes/single HTTP/1.1\nHost: localhost\nAuthorization: Bearer " + big + "\n\n", status: 431},
		{name: "fail/basic-too-large", req: "GET /shapes/or HTTP/1.1\nHost: localhost\nAuthorization: Basic " + big + "\n\n", status: 431},
		{name: "ok/token-at-limit-is-verified", req: "GET /shapes/single HTTP/1.1\nHost: localhost\nAuthorization: Bearer " + strings.Repeat("a", 4096) + "\n\n", status: 401},
		{name: "fail/declared-body-too-large-before-auth", req: post("Content-Length: 3000\n", strings.Repeat("b", 3000)), status: 413},
		{name: "fail/declared-body-too-large-with-token", req: post("Authorization: Bearer "+writer+"\nContent-Length: 3000\n", strings.Repeat("b", 3000)), status: 413},
		{name: "ok/body-within-api-limit", req: post("Authorization: Bearer "+writer+"\nContent-Length: 2000\n", strings.Repeat("b", 2000)), status: 200, upPath: "/backend/single"},
		{name: "ok/chunked-within-limit", req: chunked(1000), status: 200, upPath: "/backend/single"},
		{name: "fail/chunked-too-large", req: chunked(3000), status: 413, upPath: "/backend/single", mayReach: true, check: bodyCut},
	}
	runHostile(t, e, cases)
}

// TestHostileFraming: the HTTP/1 framing net/http would accept but RFC 9112
// forbids gets 400 and a closed connection; clean keep-alive traffic, with
// bodies of both framings, keeps flowing on one connection.
func TestHostileFraming(t *testing.T) {
	t.Parallel()
	e := hostileEnv(t)
	writer := e.token(func(c map[string]any) { c["scope"] = "read write" })
	auth := "Authorization: Bearer " + writer + "\r\n"
	cases := []hostileCase{
		{name: "fail/bare-lf-everywhere", req: "GET /shapes/public HTTP/1.1\nHost: localhost\n\n", raw: true, status: 400},
		{name: "fail/bare-lf-request-line", req: "GET /shapes/public HTTP/1.1\nHost: localhost\r\n\r\n", raw: true, status: 400},
		{name: "fail/bare-lf-one-field", req: "GET /shapes/public HTTP/1.1\r\nHost: localhost\nX-A: 1\r\n\r\n", raw: true, status: 400},
		{name: "fail/bare-lf-end-of-head", req: "GET /shapes/public HTTP/1.1\r\nHost: localhost\r\n\n", raw: true, status: 400},
		{name: "fail/obs-fold", req: "GET /shapes/public HTTP/1.1\r\nHost: localhost\r\nX-A: 1\r\n  folded\r\n\r\n", raw: true, status: 400},
		{name: "fail/obs-fold-tab", req: "GET /shapes/public HTTP/1.1\r\nHost: localhost\r\nX-A: 1\r\n\tfolded\r\n\r\n", raw: true, status: 400},
		{name: "fail/cl-te", req: "POST /shapes/single HTTP/1.1\r\nHost: localhost\r\n" + auth + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", raw: true, status: 400},
		{name: "fail/te-cl", req: "POST /shapes/single HTTP/1.1\r\nHost: localhost\r\n" + auth + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", raw: true, status: 400},
		{name: "fail/te-in-http10", req: "POST /shapes/single HTTP/1.0\r\nHost: localhost\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", raw: true, status: 400},
		{name: "ok/crlf-clean", req: "GET /shapes/public HTTP/1.1\r\nHost: localhost\r\n\r\n", raw: true, status: 200, upPath: "/backend/public"},
	}
	runHostile(t, e, cases)

	t.Run("fail/smuggled-request-never-reaches-upstream", func(t *testing.T) {
		before := e.upstream.count()
		smuggle := "POST /shapes/public HTTP/1.1\r\nHost: localhost\r\nContent-Length: 60\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
			"GET /shapes/single HTTP/1.1\r\nHost: localhost\r\nX: x\r\n\r\n"
		rs := e.rawN(smuggle, 2)
		if len(rs) != 1 || rs[0].status != 400 {
			t.Fatalf("responses %+v, want one 400 and a closed connection", rs)
		}
		if e.upstream.count() != before {
			t.Fatalf("upstream called")
		}
	})
	t.Run("ok/keep-alive-bodies-both-framings", func(t *testing.T) {
		before := e.upstream.count()
		body := strings.Repeat("x", 100)
		pipeline := "POST /shapes/single HTTP/1.1\r\nHost: localhost\r\n" + auth + "Content-Length: 100\r\n\r\n" + body +
			"POST /shapes/single HTTP/1.1\r\nHost: localhost\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\n" +
			"a;ext=1\r\n0123456789\r\n5\r\nabcde\r\n0\r\nX-Trailer: t\r\n\r\n" +
			"GET /shapes/public HTTP/1.1\r\nHost: localhost\r\n\r\n"
		rs := e.rawN(pipeline, 3)
		if len(rs) != 3 {
			t.Fatalf("got %d responses, want 3: %+v", len(rs), rs)
		}
		for i, r := range rs {
			if r.status != 200 {
				t.Errorf("response %d: %d %s", i, r.status, r.body)
			}
		}
		if n := e.upstream.count() - before; n != 3 {
			t.Fatalf("upstream got %d requests, want 3", n)
		}
	})
	t.Run("ok/metrics-count-refusals", func(t *testing.T) {
		resp, err := http.Get(e.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{`reason="bare_lf"`, `reason="obs_fold"`, `reason="content_length_with_transfer_encoding"`, `reason="transfer_encoding_in_http10"`} {
			if !strings.Contains(string(b), "gatehouse_http1_framing_rejected_total{"+want+"}") {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

// TestHostileProtocols: TLS is terminated before net/http, yet HTTP/2 is
// still negotiated, HTTP/1 requests still see their TLS state (X-Forwarded-
// Proto https), and an upgrade request that is not switched closes its
// connection (its successors would not be inspected).
func TestHostileProtocols(t *testing.T) {
	t.Parallel()
	e := hostileEnv(t)
	resp, err := e.client.Get(e.base + "/shapes/public")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2", resp.Proto)
	}
	if got := e.upstream.last().Header.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("HTTP/2 X-Forwarded-Proto %q", got)
	}
	r1 := e.raw(crlf("GET /shapes/public HTTP/1.1\nHost: localhost\n\n"), "GET")
	if r1.status != 200 || e.upstream.last().Header.Get("X-Forwarded-Proto") != "https" {
		t.Errorf("HTTP/1: %d, X-Forwarded-Proto %q", r1.status, e.upstream.last().Header.Get("X-Forwarded-Proto"))
	}
	rs := e.rawN(crlf("GET /shapes/public HTTP/1.1\nHost: localhost\nConnection: Upgrade\nUpgrade: websocket\n\nGET /shapes/public HTTP/1.1\nHost: localhost\n\n"), 2)
	if len(rs) != 1 || rs[0].status != 200 || !rs[0].close {
		t.Fatalf("upgrade not switched: %d responses %+v, want one 200 with Connection: close", len(rs), rs)
	}
}
