package gateway_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestCORS: preflights are answered by the gateway per API config, before
// authentication and without the upstream; answers to listed origins carry
// the CORS headers (denials too), replacing the upstream's.
func TestCORS(t *testing.T) {
	t.Parallel()
	cfg := strings.Replace(coreConfig, "    upstream: ${UPSTREAM}/backend\n",
		"    upstream: ${UPSTREAM}/backend\n    cors: {allowed_origins: [\"https://app.example\"], allowed_headers: [Authorization, X-Trace], exposed_headers: [X-Request-Id], allow_credentials: true, max_age: 10m}\n", 1)
	e := newEnv(t, envOptions{config: cfg, files: map[string]string{
		"shapes.yaml": shapesDoc, "bare.yaml": bareDoc,
		"bundle/.manifest": `{"revision": "cors", "roots": ["gatehouse/revocations"]}`,
		"bundle/data.json": `{"gatehouse": {"revocations": {"jti": {}}}}`,
	}})
	tok := e.token(nil)
	pre := func(path, origin, method, headers string) http.Header {
		h := hdr("Origin", origin, "Access-Control-Request-Method", method)
		if headers != "" {
			h.Set("Access-Control-Request-Headers", headers)
		}
		return h
	}
	tests := []struct {
		name     string
		method   string
		path     string
		header   http.Header
		status   int
		allow    string // Access-Control-Allow-Origin, "" = none
		upstream bool
	}{
		{"ok/preflight", "OPTIONS", "/shapes/single", pre("", "https://app.example", "POST", "authorization, x-trace, content-type"), 204, "https://app.example", false},
		{"ok/preflight-template", "OPTIONS", "/shapes/items/7", pre("", "https://app.example", "GET", ""), 204, "https://app.example", false},
		{"fail/preflight-other-origin", "OPTIONS", "/shapes/single", pre("", "https://evil.example", "GET", ""), 403, "", false},
		{"fail/preflight-null-origin", "OPTIONS", "/shapes/single", pre("", "null", "GET", ""), 403, "", false},
		{"fail/preflight-method-without-operation", "OPTIONS", "/shapes/single", pre("", "https://app.example", "DELETE", ""), 403, "", false},
		{"fail/preflight-unlisted-header", "OPTIONS", "/shapes/single", pre("", "https://app.example", "GET", "x-secret"), 403, "", false},
		{"fail/preflight-api-without-cors", "OPTIONS", "/bare/nothing", pre("", "https://app.example", "GET", ""), 405, "", false},
		{"fail/preflight-normalized-path", "OPTIONS", "/shapes/x/../single", pre("", "https://app.example", "GET", ""), 204, "https://app.example", false},
		{"ok/actual-request", "GET", "/shapes/single", mergeHeaders(bearer(tok), hdr("Origin", "https://app.example")), 200, "https://app.example", true},
		{"ok/denial-readable-by-the-origin", "GET", "/shapes/single", hdr("Origin", "https://app.example"), 401, "https://app.example", false},
		{"ok/other-origin-gets-no-cors-headers", "GET", "/shapes/single", mergeHeaders(bearer(tok), hdr("Origin", "https://evil.example")), 200, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.upstream.count()
			r := e.do(tc.method, tc.path, tc.header)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if got := r.header.Get("Access-Control-Allow-Origin"); got != tc.allow {
				t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, tc.allow)
			}
			if n := len(r.header.Values("Access-Control-Allow-Origin")); n > 1 {
				t.Fatalf("%d Access-Control-Allow-Origin headers", n)
			}
			if called := e.upstream.count() > before; called != tc.upstream {
				t.Fatalf("upstream called %v", called)
			}
			if tc.status == 204 {
				for k, want := range map[string]string{"Access-Control-Allow-Credentials": "true", "Access-Control-Max-Age": "600", "Access-Control-Allow-Headers": "Authorization, X-Trace"} {
					if got := r.header.Get(k); got != want {
						t.Errorf("%s %q, want %q", k, got, want)
					}
				}
			}
		})
	}
}
