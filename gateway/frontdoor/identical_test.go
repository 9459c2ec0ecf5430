package frontdoor_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// answer is what one front door made of a request, in comparable form.
type answer struct {
	status    int
	challenge []string
	body      string         // the problem document, request id blanked
	assertion map[string]any // claims of the identity assertion, iat/exp dropped
	audit     map[string]any // the audit line's decision fields
	// forwarded: the credential headers (and headers the policy removes)
	// the upstream would still receive.
	forwarded []string
	// client: the policy-shaped headers of the client's answer (X-Demo-*,
	// and Set-Cookie, which a policy may never set), lowercase names.
	client map[string]string
}

// clientHeaders keeps the policy-shaped headers of an answer.
func clientHeaders(add func(yield func(k, v string))) map[string]string {
	var m map[string]string
	add(func(k, v string) {
		k = strings.ToLower(k)
		if strings.HasPrefix(k, "x-demo-") || k == "set-cookie" {
			if m == nil {
				m = map[string]string{}
			}
			m[k] = v
		}
	})
	return m
}

func fromHeader(h http.Header) func(yield func(k, v string)) {
	return func(yield func(k, v string)) {
		for k := range h {
			yield(k, h.Get(k))
		}
	}
}

type qsCase struct {
	name         string
	method, path string
	header       func(q *quickstart) http.Header
	cert         bool
	status       int
	subject      string // the assertion's sub on an allow ("" : public, none)
}

func bearer(tok string) func(q *quickstart) http.Header {
	return func(q *quickstart) http.Header { return http.Header{"Authorization": {"Bearer " + q.tokens[tok]}} }
}

func basic(user, pw string) func(q *quickstart) http.Header {
	return func(*quickstart) http.Header {
		return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))}}
	}
}

// quickstartCases are examples/quickstart/curls.sh, every scheme and answer.
var quickstartCases = []qsCase{
	{name: "ok/public", method: "GET", path: "/petstore/v1/health", status: 200},
	{name: "fail/no_credentials", method: "GET", path: "/petstore/v1/pets", status: 401},
	{name: "ok/jwt_read", method: "GET", path: "/petstore/v1/pets", header: bearer("read"), status: 200, subject: "demo-user"},
	{name: "fail/insufficient_scope", method: "POST", path: "/petstore/v1/pets", header: bearer("read"), status: 403},
	{name: "ok/jwt_write", method: "POST", path: "/petstore/v1/pets", header: bearer("write"), status: 200, subject: "demo-user"},
	{name: "fail/expired", method: "GET", path: "/petstore/v1/pets", header: bearer("expired"), status: 401},
	{name: "fail/wrong_audience", method: "GET", path: "/petstore/v1/pets", header: bearer("wrongaud"), status: 401},
	{name: "fail/revoked", method: "GET", path: "/petstore/v1/pets", header: bearer("revoked"), status: 401},
	{name: "ok/basic", method: "GET", path: "/petstore/v1/pets/1", header: basic("alice", "wonderland"), status: 200, subject: "alice"},
	{name: "ok/jwt_or_basic", method: "GET", path: "/petstore/v1/pets/1?verbose=1", header: bearer("read"), status: 200, subject: "demo-user"},
	{name: "fail/basic_wrong_password", method: "GET", path: "/petstore/v1/pets/1", header: basic("alice", "wrong"), status: 401},
	{name: "fail/bad_jwt_never_falls_through", method: "GET", path: "/petstore/v1/pets/1", header: bearer("expired"), status: 401},
	{name: "fail/no_route", method: "GET", path: "/petstore/v1/nope", status: 404},
	{name: "fail/method_not_allowed", method: "PUT", path: "/petstore/v1/pets", status: 405},
	{name: "fail/traversal", method: "GET", path: "/petstore/v1/../v1/pets", status: 400},
	{name: "fail/encoded_slash", method: "GET", path: "/petstore/v1/pets/a%2Fb", status: 400},
	{name: "ok/api_key", method: "GET", path: "/petstore/v1/inventory", header: func(q *quickstart) http.Header {
		return http.Header{"X-Api-Key": {q.apiKey}}
	}, status: 200, subject: "demo-app"},
	{name: "fail/api_key_missing", method: "GET", path: "/petstore/v1/inventory", status: 401},
	{name: "fail/api_key_as_bearer", method: "GET", path: "/petstore/v1/pets", header: func(q *quickstart) http.Header {
		return http.Header{"Authorization": {"Bearer " + q.apiKey}}
	}, status: 401},
	{name: "ok/mtls", method: "GET", path: "/partners/v1/orders", cert: true, status: 200, subject: "CN=demo-client,O=Gatehouse test"},
	{name: "fail/mtls_missing", method: "GET", path: "/partners/v1/orders", status: 401},
	{name: "ok/mtls_and_jwt", method: "GET", path: "/partners/v1/orders/7", cert: true, header: bearer("read"), status: 200, subject: "demo-user"},
	{name: "fail/mtls_without_jwt", method: "GET", path: "/partners/v1/orders/7", cert: true, status: 401},
	{name: "fail/spoofed_identity_header", method: "GET", path: "/petstore/v1/pets", header: func(*quickstart) http.Header {
		return http.Header{"X-Jwt-Assertion": {"forged"}, "X-Forwarded-Client-Cert": {"Hash=00"}}
	}, status: 401},
}

// beyondCurls are requests the quickstart's curls do not show that every
// front door must still answer as the proxy does.
var beyondCurls = []qsCase{
	{name: "fail/token_in_query", method: "GET", path: "/petstore/v1/pets?access_token=abc", header: bearer("read"), status: 400},
}

// TestIdenticalDecisions sends every quickstart case (and beyondCurls) through the reverse
// proxy, Envoy's gRPC Check (a real gRPC client with Envoy's types, over
// loopback TLS), and the forward-auth endpoints as Caddy/Traefik and NGINX
// call them, and requires the same status, challenges, problem body, audit
// line (reasons, schemes, outcomes, credential ids) and identity assertion.
func TestIdenticalDecisions(t *testing.T) {
	t.Parallel() // each starts its own gateway, upstream and proxies on free ports
	q := startQuickstart(t)
	proxy, fwd := q.httpClient(false, ""), q.httpClient(false, fwdProxyAddr)
	proxyCert := q.httpClient(true, "")
	check := q.grpcClient(t, "")

	for i, c := range append(quickstartCases[:len(quickstartCases):len(quickstartCases)], beyondCurls...) {
		t.Run(c.name, func(t *testing.T) {
			rid := fmt.Sprintf("case%d", i)
			doors := map[string]answer{}
			pc := proxy
			if c.cert {
				pc = proxyCert
			}
			doors["proxy"] = q.viaProxy(t, pc, c, rid+"-proxy")
			doors["grpc"] = q.viaGRPC(t, check, c, rid+"-grpc")
			doors["forward"] = q.viaForwardAuth(t, fwd, c, rid+"-forward", "/auth/forward")
			doors["nginx"] = q.viaForwardAuth(t, fwd, c, rid+"-nginx", "/auth/nginx")
			want := doors["proxy"]
			if want.status != c.status {
				t.Fatalf("proxy: status %d, want %d (%s)", want.status, c.status, want.body)
			}
			if c.status == 200 {
				if got, _ := want.assertion["sub"].(string); got != c.subject && !(c.subject == "" && want.assertion == nil) {
					t.Errorf("proxy: assertion sub %q, want %q", got, c.subject)
				}
			}
			for name, got := range doors {
				if len(got.forwarded) > 0 {
					t.Errorf("%s: credentials would reach the upstream: %v", name, got.forwarded)
				}
				if name == "proxy" {
					continue
				}
				if got.status != want.status || !reflect.DeepEqual(got.challenge, want.challenge) || got.body != want.body {
					t.Errorf("%s: %d %q %s\nproxy: %d %q %s", name, got.status, got.challenge, got.body, want.status, want.challenge, want.body)
				}
				if !reflect.DeepEqual(got.assertion, want.assertion) {
					t.Errorf("%s: assertion %v\nproxy: %v", name, got.assertion, want.assertion)
				}
				if !reflect.DeepEqual(got.client, want.client) {
					t.Errorf("%s: client headers %v\nproxy: %v", name, got.client, want.client)
				}
				if !reflect.DeepEqual(got.audit, want.audit) {
					t.Errorf("%s: audit %v\nproxy: %v", name, got.audit, want.audit)
				}
			}
		})
	}
}

func (q *quickstart) viaProxy(t *testing.T, c *http.Client, tc qsCase, rid string) answer {
	req, err := http.NewRequest(tc.method, q.base+tc.path, nil)
	must(t, err)
	if tc.header != nil {
		req.Header = tc.header(q)
	}
	req.Header.Set("X-Request-Id", rid)
	resp, err := c.Do(req)
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := answer{status: resp.StatusCode, challenge: resp.Header.Values("WWW-Authenticate"), audit: q.auditFields(rid), client: clientHeaders(fromHeader(resp.Header))}
	if resp.StatusCode >= 300 {
		a.body = strings.ReplaceAll(string(body), rid, "RID")
	}
	if up := q.up.headers(rid); up != nil {
		a.assertion = claims(t, up.Get("X-JWT-Assertion"))
		for _, h := range []string{"Authorization", "X-Api-Key", certHeader, "X-Demo-Debug"} {
			if up.Get(h) != "" {
				a.forwarded = append(a.forwarded, h)
			}
		}
	}
	return a
}

func (q *quickstart) viaGRPC(t *testing.T, check authv3.AuthorizationClient, tc qsCase, rid string) answer {
	headers := map[string]string{"x-request-id": rid, "user-agent": "test"}
	if tc.header != nil {
		for k, v := range tc.header(q) {
			headers[strings.ToLower(k)] = strings.Join(v, ",")
		}
	}
	src := &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
		SocketAddress: &corev3.SocketAddress{Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 50000}}}}}
	if tc.cert {
		src.Certificate = url.QueryEscape(string(q.client.CertPEM()))
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: src,
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: rid, Method: tc.method, Path: tc.path, Host: "localhost", Scheme: "https", Protocol: "HTTP/1.1", Headers: headers,
		}},
	}}
	resp, err := check.Check(context.Background(), req)
	must(t, err)
	a := answer{audit: q.auditFields(rid)}
	switch r := resp.GetHttpResponse().(type) {
	case *authv3.CheckResponse_OkResponse:
		a.status = 200
		set := map[string]string{}
		for _, h := range r.OkResponse.GetHeaders() {
			set[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		a.assertion = claims(t, set["x-jwt-assertion"])
		a.client = clientHeaders(func(yield func(k, v string)) {
			for _, h := range r.OkResponse.GetResponseHeadersToAdd() {
				yield(h.GetHeader().GetKey(), h.GetHeader().GetValue())
			}
		})
		removed := map[string]bool{}
		for _, h := range r.OkResponse.GetHeadersToRemove() {
			removed[h] = true
		}
		for k := range headers {
			if (k == "authorization" || k == "x-api-key" || k == "x-jwt-assertion" || k == "x-demo-debug") && !removed[k] && set[k] == "" {
				a.forwarded = append(a.forwarded, k)
			}
		}
	case *authv3.CheckResponse_DeniedResponse:
		a.status = int(r.DeniedResponse.GetStatus().GetCode())
		for _, h := range r.DeniedResponse.GetHeaders() {
			if strings.EqualFold(h.GetHeader().GetKey(), "www-authenticate") {
				a.challenge = append(a.challenge, h.GetHeader().GetValue())
			}
		}
		a.body = strings.ReplaceAll(r.DeniedResponse.GetBody(), rid, "RID")
		a.client = clientHeaders(func(yield func(k, v string)) {
			for _, h := range r.DeniedResponse.GetHeaders() {
				yield(h.GetHeader().GetKey(), h.GetHeader().GetValue())
			}
		})
	default:
		t.Fatalf("check: no http response: %v", resp)
	}
	return a
}

func (q *quickstart) viaForwardAuth(t *testing.T, c *http.Client, tc qsCase, rid, endpoint string) answer {
	req, err := http.NewRequest("GET", q.faBase+endpoint, nil)
	must(t, err)
	if tc.header != nil {
		req.Header = tc.header(q)
	}
	req.Header.Set("X-Request-Id", rid)
	if endpoint == "/auth/nginx" {
		req.Header.Set("X-Original-Method", tc.method)
		req.Header.Set("X-Original-URI", tc.path)
		req.Host = "localhost"
	} else {
		req.Header.Set("X-Forwarded-Method", tc.method)
		req.Header.Set("X-Forwarded-Uri", tc.path)
		req.Header.Set("X-Forwarded-Host", "localhost")
	}
	req.Header.Set("X-Forwarded-Proto", "https")
	if tc.cert {
		req.Header.Set(certHeader, url.QueryEscape(string(q.client.CertPEM())))
	}
	resp, err := c.Do(req)
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := answer{status: resp.StatusCode, challenge: resp.Header.Values("WWW-Authenticate"), audit: q.auditFields(rid), client: clientHeaders(fromHeader(resp.Header))}
	if resp.StatusCode >= 300 {
		a.body = strings.ReplaceAll(string(body), rid, "RID")
	} else {
		a.assertion = claims(t, resp.Header.Get("X-JWT-Assertion"))
	}
	return a
}

// auditFields are the parts of an audit line that describe the decision.
func (q *quickstart) auditFields(rid string) map[string]any {
	m := q.audit(rid)
	out := map[string]any{}
	for _, k := range []string{"api", "operation", "schemes", "outcomes", "credential_ids", "decision", "reasons", "status", "method"} {
		out[k] = m[k]
	}
	return out
}

// claims decodes an assertion's payload (its signature is checked by the
// real-proxy tests) without the time claims; "" gives nil.
func claims(t *testing.T, jwt string) map[string]any {
	if jwt == "" {
		return nil
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("assertion is not a JWS: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	must(t, err)
	var m map[string]any
	must(t, json.Unmarshal(b, &m))
	delete(m, "iat")
	delete(m, "exp")
	delete(m, "jti")
	return m
}
