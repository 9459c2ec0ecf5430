package frontdoor_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// bodyRego judges the body of createPet, which the test's copy of the
// quickstart's petstore.yaml opts in (x-gatehouse-policy-body: true).
const bodyRego = `package gatehouse.custom

deny contains {"reason": "pet_too_old", "status": 422} if input.request.body.age > 20
`

// The body a policy reads: the proxy and Envoy's gRPC Check with
// with_request_body decide on it alike; a Check without the whole body
// and every forward-auth request (the proxies send no body) are refused
// with 500 body_unavailable, never decided without it.
func TestFrontDoorPolicyBody(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "quickstart", "petstore.yaml"))
	must(t, err)
	doc := strings.Replace(string(raw), "operationId: createPet\n", "operationId: createPet\n      x-gatehouse-policy-body: true\n", 1)
	if doc == string(raw) {
		t.Fatal("createPet not found in petstore.yaml")
	}
	q := startQuickstartWith(t, map[string]string{"petstore.yaml": doc, "bundle/body.rego": bodyRego})
	proxy, fwd := q.httpClient(false, ""), q.httpClient(false, fwdProxyAddr)
	check := q.grpcClient(t, "")
	auth := "Bearer " + q.tokens["write"]

	viaProxy := func(body string) int {
		req, err := http.NewRequest("POST", q.base+"/petstore/v1/pets", strings.NewReader(body))
		must(t, err)
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		resp, err := proxy.Do(req)
		must(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	viaGRPC := func(body string, headers map[string]string) int {
		h := map[string]string{"authorization": auth, "content-type": "application/json"}
		for k, v := range headers {
			h[k] = v
		}
		resp, err := check.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
				SocketAddress: &corev3.SocketAddress{Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 50000}}}}},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "POST", Path: "/petstore/v1/pets", Host: "localhost", Scheme: "https", Protocol: "HTTP/1.1", Headers: h, RawBody: []byte(body),
			}},
		}})
		must(t, err)
		if resp.GetOkResponse() != nil {
			return 200
		}
		return int(resp.GetDeniedResponse().GetStatus().GetCode())
	}
	viaForward := func(body string) int {
		req, err := http.NewRequest("GET", q.faBase+"/auth/forward", strings.NewReader(body))
		must(t, err)
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-Method", "POST")
		req.Header.Set("X-Forwarded-Uri", "/petstore/v1/pets")
		req.Header.Set("X-Forwarded-Host", "localhost")
		req.Header.Set("X-Forwarded-Proto", "https")
		resp, err := fwd.Do(req)
		must(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	cases := []struct {
		name string
		call func() int
		want int
	}{
		{"ok/proxy_young", func() int { return viaProxy(`{"age": 3}`) }, 200},
		{"fail/proxy_old", func() int { return viaProxy(`{"age": 30}`) }, 422},
		{"ok/grpc_young", func() int { return viaGRPC(`{"age": 3}`, nil) }, 200},
		{"fail/grpc_old", func() int { return viaGRPC(`{"age": 30}`, nil) }, 422},
		{"fail/grpc_declared_body_missing", func() int { return viaGRPC("", map[string]string{"content-length": "11"}) }, 500},
		{"fail/grpc_partial_body", func() int { return viaGRPC(`{"age": 3`, map[string]string{"x-envoy-auth-partial-body": "true"}) }, 500},
		{"fail/grpc_length_mismatch", func() int { return viaGRPC(`{"age": 3}`, map[string]string{"content-length": "400"}) }, 500},
		{"fail/forward_auth_never_has_the_body", func() int { return viaForward(`{"age": 3}`) }, 500},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.call(); got != c.want {
				t.Fatalf("status %d, want %d", got, c.want)
			}
		})
	}
	if !strings.Contains(q.logs.String(), "reads the request body") {
		t.Error("no log line says why body_unavailable")
	}
}
