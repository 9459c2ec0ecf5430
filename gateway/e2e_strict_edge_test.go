package gateway_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// The edge classes of issue 15, over raw TCP: a second token in the query,
// identity-looking headers, X-Forwarded-Host, `OPTIONS *`, and chunked
// framing with bare line ends — each asserting the status, the challenge,
// the audit reason and exactly what the upstream received.

// strictEnv is the hostile env plus request_headers settings and an API-key
// scheme in a header the default patterns cover (X-Api-Key).
func strictEnv(t *testing.T) *env {
	t.Helper()
	e := hostileEnvWith(t, "request_headers: {strip: [X-Tier], keep: [X-Client-Version, X-JWT-Assertion]}\n")
	return e
}

func TestStrictQueryToken(t *testing.T) {
	e := strictEnv(t)
	tok := e.token(nil)
	other := e.token(func(c map[string]any) { c["sub"] = "someone-else"; c["scope"] = "read write admin" })
	get := func(target, extra string) string {
		return "GET " + target + " HTTP/1.1\nHost: localhost\n" + extra + "\n"
	}
	auth := "Authorization: Bearer " + tok + "\n"
	const challenge = `Bearer realm="shapes", error="invalid_request", error_description="access token in the query"`
	noToken := func(t *testing.T, got recorded) {
		if strings.Contains(got.Query, other) || strings.Contains(strings.ToLower(got.Query), "access") {
			t.Errorf("upstream got query %q", got.Query)
		}
	}
	cases := []hostileCase{
		{name: "fail/second-token-in-query-beside-valid-bearer", req: get("/shapes/single?access_token="+other, auth),
			status: 400, challenge: challenge, reason: "token_in_query"},
		{name: "fail/token-only-in-query", req: get("/shapes/single?access_token="+other, ""),
			status: 400, challenge: challenge, reason: "token_in_query"},
		{name: "fail/token-in-query-after-other-params", req: get("/shapes/single?a=1&access_token="+other+"&b=2", auth),
			status: 400, challenge: challenge, reason: "token_in_query"},
		{name: "fail/percent-encoded-name", req: get("/shapes/single?acc%65ss_token="+other, auth),
			status: 400, challenge: challenge, reason: "token_in_query"},
		{name: "fail/upper-case-name", req: get("/shapes/single?ACCESS_TOKEN="+other, auth),
			status: 400, challenge: challenge, reason: "token_in_query"},
		{name: "fail/semicolon-separator", req: get("/shapes/single?a=1;access_token="+other, auth),
			status: 400, challenge: challenge, reason: "token_in_query"},
		{name: "fail/empty-value", req: get("/shapes/single?access_token", auth),
			status: 400, challenge: challenge, reason: "token_in_query"},
		{name: "fail/bearer-or-basic-operation", req: get("/shapes/or?access_token="+other, ""),
			status: 400, challenge: challenge, reason: "token_in_query"},
		{name: "ok/similar-parameter-forwarded", req: get("/shapes/single?x_access_token_y=1", auth),
			status: 200, upPath: "/backend/single", check: func(t *testing.T, got recorded) {
				if got.Query != "x_access_token_y=1" {
					t.Errorf("upstream query %q", got.Query)
				}
			}},
		{name: "ok/valid-bearer-no-query-token", req: get("/shapes/single?q=1", auth), status: 200, upPath: "/backend/single", check: noToken},
	}
	runHostile(t, e, cases)
}

func TestStrictIdentityHeaders(t *testing.T) {
	e := strictEnv(t)
	tok := e.token(nil)
	// Every family of the default patterns, in the spellings upstream
	// frameworks fold together.
	spoofed := []string{
		"X-Api-Key-Id", "X-API-Key", "X-Apikey", "X-User-Id", "X-User", "X-Userid", "X-User-Email", "X_User_Id", "x-user-roles",
		"X-Auth-User", "X-Auth-Token", "X-Authenticated-Scope", "X-Consumer-Custom-Id", "X-Client-Id", "X-Client-Cert",
		"X-Forwarded-Client-Cert", "X-JWT-Claims", "X-Jwt-Payload", "X-Userinfo", "X-Remote-User", "X-Remote-Groups",
		"X-Credential-Username", "X-Principal", "X-Roles", "X-Gatehouse-Scopes", "X-Ms-Client-Principal-Id",
		"X-Tier",          // request_headers.strip
		"X-JWT-Assertion", // the gateway's own header: request_headers.keep cannot spare it
	}
	var spoof strings.Builder
	for _, h := range spoofed {
		spoof.WriteString(h + ": forged\n")
	}
	spoof.WriteString("X-Client-Version: 4.2\nX-Custom: fine\n")
	check := func(t *testing.T, got recorded) {
		for k, v := range got.Header {
			if len(v) > 0 && v[0] == "forged" {
				t.Errorf("client-sent %s reached the upstream", k)
			}
		}
		if got.Header.Get("X-Client-Version") != "4.2" || got.Header.Get("X-Custom") != "fine" {
			t.Errorf("kept headers lost: %v", got.Header)
		}
	}
	get := func(path, extra string) string {
		return "GET " + path + " HTTP/1.1\nHost: localhost\n" + extra + spoof.String() + "\n"
	}
	cases := []hostileCase{
		{name: "ok/public-route", req: get("/shapes/public", ""), status: 200, upPath: "/backend/public", check: check},
		{name: "ok/protected-route", req: get("/shapes/single", "Authorization: Bearer "+tok+"\n"), status: 200, upPath: "/backend/single", check: check},
		{name: "fail/unauthenticated-stops-at-gateway", req: get("/shapes/single", ""), status: 401,
			challenge: `Bearer realm="shapes"`, reason: "credentials_missing"},
	}
	runHostile(t, e, cases)
}

func TestStrictForwardedHost(t *testing.T) {
	e := strictEnv(t)
	port := e.srv.Addr().String()[strings.LastIndexByte(e.srv.Addr().String(), ':')+1:]
	xfh := func(want string) func(t *testing.T, got recorded) {
		return func(t *testing.T, got recorded) {
			if v := got.Header.Values("X-Forwarded-Host"); len(v) != 1 || v[0] != want {
				t.Errorf("X-Forwarded-Host = %q, want %q (the TLS server name)", v, want)
			}
		}
	}
	cases := []hostileCase{
		{name: "ok/client-chosen-host-not-echoed", req: "GET /shapes/public HTTP/1.1\nHost: evil.example\n\n",
			status: 200, upPath: "/backend/public", check: xfh("localhost")},
		{name: "ok/client-sent-x-forwarded-host-replaced", req: "GET /shapes/public HTTP/1.1\nHost: localhost\nX-Forwarded-Host: evil.example\n\n",
			status: 200, upPath: "/backend/public", check: xfh("localhost")},
		{name: "ok/host-with-port-of-the-sni", req: "GET /shapes/public HTTP/1.1\nHost: localhost:" + port + "\n\n",
			status: 200, upPath: "/backend/public", check: xfh("localhost:" + port)},
		{name: "ok/other-host-with-port", req: "GET /shapes/public HTTP/1.1\nHost: evil.example:" + port + "\n\n",
			status: 200, upPath: "/backend/public", check: xfh("localhost")},
	}
	runHostile(t, e, cases)
}

func TestStrictAsteriskAndChunked(t *testing.T) {
	e := strictEnv(t)
	writer := e.token(func(c map[string]any) { c["scope"] = "read write" })
	post := func(body string) string {
		return "POST /shapes/single HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + writer + "\r\nTransfer-Encoding: chunked\r\n\r\n" + body
	}
	// A chunked body that breaks the rules is aborted on its way upstream:
	// the upstream may have started reading it, but never gets a complete
	// request.
	aborted := func(t *testing.T, got recorded) {
		if got.BodyErr == nil {
			t.Errorf("upstream read a complete body of %d bytes", got.Body)
		}
	}
	whole := func(n int64) func(t *testing.T, got recorded) {
		return func(t *testing.T, got recorded) {
			if got.BodyErr != nil || got.Body != n {
				t.Errorf("upstream body %d bytes (%v), want %d", got.Body, got.BodyErr, n)
			}
		}
	}
	cases := []hostileCase{
		{name: "fail/options-asterisk", req: "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n", raw: true, status: 400},
		{name: "fail/options-asterisk-http10", req: "OPTIONS * HTTP/1.0\r\n\r\n", raw: true, status: 400},
		{name: "ok/chunked-clean", req: post("3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"), raw: true,
			status: 200, upPath: "/backend/single", check: whole(5)},
		{name: "fail/bare-lf-chunk-size-line", req: post("3\nabc\r\n0\r\n\r\n"), raw: true,
			status: 400, upPath: "/backend/single", mayReach: true, check: aborted},
		{name: "fail/bare-lf-second-chunk-size", req: post("3\r\nabc\r\n2\nde\r\n0\r\n\r\n"), raw: true,
			status: 400, upPath: "/backend/single", mayReach: true, check: aborted},
		{name: "fail/bare-lf-after-chunk-data", req: post("3\r\nabc\n2\r\nde\r\n0\r\n\r\n"), raw: true,
			status: 400, upPath: "/backend/single", mayReach: true, check: aborted},
		{name: "fail/bare-lf-in-chunk-extension", req: post("3;a=b\nabc\r\n0\r\n\r\n"), raw: true,
			status: 400, upPath: "/backend/single", mayReach: true, check: aborted},
		{name: "fail/bare-cr-in-chunk-extension", req: post("3;a\rb\r\nabc\r\n0\r\n\r\n"), raw: true,
			status: 400, upPath: "/backend/single", mayReach: true, check: aborted},
		{name: "fail/bare-lf-last-chunk", req: post("3\r\nabc\r\n0\n\r\n"), raw: true,
			status: 400, upPath: "/backend/single", mayReach: true, check: aborted},
		{name: "fail/bare-lf-in-trailer", req: post("3\r\nabc\r\n0\r\nX-T: 1\n\r\n"), raw: true,
			status: 400, upPath: "/backend/single", mayReach: true, check: aborted},
		{name: "fail/chunk-data-longer-than-size", req: post("3\r\nabcd\r\n0\r\n\r\n"), raw: true,
			status: 400, upPath: "/backend/single", mayReach: true, check: aborted},
		{name: "fail/bad-chunk-size", req: post("0x3\r\nabc\r\n0\r\n\r\n"), raw: true,
			status: 400, upPath: "/backend/single", mayReach: true, check: aborted},
	}
	runHostile(t, e, cases)
}

// TestStrictBcryptLength: bcrypt reads 72 bytes of a password. A user whose
// password is exactly 72 bytes logs in with it; a longer password sharing
// those 72 bytes, which bcrypt alone would accept, is refused.
func TestStrictBcryptLength(t *testing.T) {
	pw72 := strings.Repeat("p", 71) + "!"
	users := map[string]string{"alice": "alice-secret-pw", "bob": "bob-secret-pw", "long": pw72}
	e := newEnv(t, envOptions{config: coreConfig, files: map[string]string{
		"shapes.yaml": shapesDoc, "bare.yaml": bareDoc,
		"bundle/.manifest": `{"revision": "bcrypt", "roots": ["gatehouse/revocations"]}`,
		"bundle/data.json": `{"gatehouse": {"revocations": {"jti": {}}}}`,
		"users.htpasswd":   string(authntest.Must(authntest.Htpasswd(users, 0))),
	}})
	const challenge = `Basic realm="shapes", charset="UTF-8"`
	tests := []struct {
		name, pw string
		status   int
	}{
		{"ok/72-bytes", pw72, 200},
		{"fail/73-bytes-sharing-the-72", pw72 + "x", 401},
		{"fail/100-bytes-sharing-the-72", pw72 + strings.Repeat("y", 28), 401},
		{"fail/71-bytes", pw72[:71], 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.upstream.count()
			resp := e.do("GET", "/shapes/override", basic("long", tc.pw))
			if resp.status != tc.status {
				t.Fatalf("status %d, want %d", resp.status, tc.status)
			}
			called := e.upstream.count() > before
			if called != (tc.status == 200) {
				t.Fatalf("upstream called = %v", called)
			}
			if tc.status == 401 {
				if got := resp.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != challenge {
					t.Errorf("WWW-Authenticate %q, want %q", got, challenge)
				}
				if got := e.auditReasons(t, resp.body); !slices.Contains(got, "credentials_invalid") {
					t.Errorf("audit reasons %v", got)
				}
			}
		})
	}
	if strings.Contains(e.logs.String(), pw72[:20]) {
		t.Error("a password reached the logs")
	}
}

// TestStrictIntrospectionDuplicates: an introspection answer that says
// "active" twice ({"active":false,…,"active":true}) is no answer: 503, and
// nothing of it is cached (the next request asks again).
func TestStrictIntrospectionDuplicates(t *testing.T) {
	e := newIntrospectionEnv(t)
	tok := e.corpToken(nil)
	e.corp.SetMode(authntest.IntrospectDuplicateActive)
	for i := range 2 {
		before := e.upstream.count()
		resp := e.do(http.MethodGet, "/shop/items", bearer(tok))
		if resp.status != 503 || resp.header.Get("Retry-After") != "5" {
			t.Fatalf("request %d: status %d (Retry-After %q), want 503", i, resp.status, resp.header.Get("Retry-After"))
		}
		if e.upstream.count() != before {
			t.Fatal("upstream called")
		}
		if got := e.auditReasons(t, resp.body); !slices.Contains(got, "authentication_unavailable") {
			t.Errorf("audit reasons %v", got)
		}
		if n := e.corp.CallsFor(tok); n != i+1 {
			t.Fatalf("%d introspection calls after %d requests: the answer was cached", n, i+1)
		}
	}
	e.corp.SetMode(authntest.IntrospectOK)
	if resp := e.do(http.MethodGet, "/shop/items", bearer(tok)); resp.status != 200 {
		t.Fatalf("well-formed answer: status %d", resp.status)
	}
	if !strings.Contains(e.logs.String(), "duplicate JSON member name") {
		t.Error("the failure is not logged with its cause")
	}
}
