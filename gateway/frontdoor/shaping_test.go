package frontdoor_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// shapingRego is a test rule added to the quickstart bundle: the request
// header x-demo-shape asks for a shaped answer.
const shapingRego = `package gatehouse.custom

response_headers["x-demo-plan"] := "gold" if input.request.headers["x-demo-shape"]

response_headers["set-cookie"] := "session=from-policy" if input.request.headers["x-demo-shape"] == "evil"

response_headers["x-demo-evil"] := "yes" if input.request.headers["x-demo-shape"] == "evil"

request_headers_to_remove contains "x-demo-debug" if input.request.headers["x-demo-shape"]

deny contains {"reason": "demo_shaped", "status": 422, "body": {"error": "demo_shaped", "limit": 1000}} if input.request.headers["x-demo-shape"] == "deny"

deny contains {"reason": "demo_teapot", "status": 418, "body": {"error": "teapot"}} if input.request.headers["x-demo-shape"] == "teapot"
`

// TestIdenticalShaping: the policy's response headers, removed request
// headers, denial body and status reach the client identically through the
// reverse proxy, Envoy's gRPC Check and the forward-auth endpoints; what the
// gateway refuses (Set-Cookie, a status outside the allowed set) is refused
// by every door.
func TestIdenticalShaping(t *testing.T) {
	t.Parallel()
	q := startQuickstartWith(t, map[string]string{"bundle/shape.rego": shapingRego})
	proxy, fwd := q.httpClient(false, ""), q.httpClient(false, fwdProxyAddr)
	check := q.grpcClient(t, "")
	shape := func(v string, auth func(q *quickstart) http.Header) func(q *quickstart) http.Header {
		return func(q *quickstart) http.Header {
			h := http.Header{"X-Demo-Shape": {v}, "X-Demo-Debug": {"1"}}
			if auth != nil {
				for k, vs := range auth(q) {
					h[k] = vs
				}
			}
			return h
		}
	}
	cases := []struct {
		qsCase
		client map[string]string
		body   string
	}{
		{qsCase: qsCase{name: "ok/allow_shaped", method: "GET", path: "/petstore/v1/pets", header: shape("1", bearer("read")), status: 200},
			client: map[string]string{"x-demo-plan": "gold"}},
		{qsCase: qsCase{name: "ok/public_shaped", method: "GET", path: "/petstore/v1/health", header: shape("1", nil), status: 200},
			client: map[string]string{"x-demo-plan": "gold"}},
		{qsCase: qsCase{name: "ok/owned_headers_refused", method: "GET", path: "/petstore/v1/pets", header: shape("evil", bearer("read")), status: 200},
			client: map[string]string{"x-demo-plan": "gold", "x-demo-evil": "yes"}},
		{qsCase: qsCase{name: "fail/denial_body_and_status", method: "GET", path: "/petstore/v1/pets", header: shape("deny", bearer("read")), status: 422},
			client: map[string]string{"x-demo-plan": "gold"}, body: `{"error":"demo_shaped","limit":1000}`},
		{qsCase: qsCase{name: "fail/authentication_governs", method: "GET", path: "/petstore/v1/pets", header: shape("deny", nil), status: 401},
			client: map[string]string{"x-demo-plan": "gold"}},
		{qsCase: qsCase{name: "fail/status_outside_the_set", method: "GET", path: "/petstore/v1/pets", header: shape("teapot", bearer("read")), status: 403},
			client: map[string]string{"x-demo-plan": "gold"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rid := fmt.Sprintf("shape%d", i)
			doors := map[string]answer{
				"proxy":   q.viaProxy(t, proxy, c.qsCase, rid+"-proxy"),
				"grpc":    q.viaGRPC(t, check, c.qsCase, rid+"-grpc"),
				"forward": q.viaForwardAuth(t, fwd, c.qsCase, rid+"-forward", "/auth/forward"),
				"nginx":   q.viaForwardAuth(t, fwd, c.qsCase, rid+"-nginx", "/auth/nginx"),
			}
			want := doors["proxy"]
			if want.status != c.status || !reflect.DeepEqual(want.client, c.client) {
				t.Fatalf("proxy: %d %v, want %d %v (%s)", want.status, want.client, c.status, c.client, want.body)
			}
			if c.body != "" && want.body != c.body {
				t.Fatalf("proxy: body %s, want %s", want.body, c.body)
			}
			for name, got := range doors {
				if len(got.forwarded) > 0 {
					t.Errorf("%s: would reach the upstream: %v", name, got.forwarded)
				}
				if got.status != want.status || !reflect.DeepEqual(got.challenge, want.challenge) || got.body != want.body || !reflect.DeepEqual(got.client, want.client) {
					t.Errorf("%s: %d %q %s %v\nproxy: %d %q %s %v", name, got.status, got.challenge, got.body, got.client, want.status, want.challenge, want.body, want.client)
				}
				if !reflect.DeepEqual(got.audit, want.audit) {
					t.Errorf("%s: audit %v\nproxy: %v", name, got.audit, want.audit)
				}
			}
		})
	}
	logs := q.logs.String()
	for _, want := range []string{"policy response shaping refused", "Set-Cookie", "status 418"} {
		if !contains(logs, want) {
			t.Errorf("no %q in the logs", want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
