package frontdoor_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// TestForwardAuthHostile: the endpoint is no oracle and never allows what
// it cannot rebuild without guessing.
func TestForwardAuthHostile(t *testing.T) {
	t.Parallel() // each starts its own gateway, upstream and proxies on free ports
	q := startQuickstart(t)
	trusted, untrusted := q.httpClient(false, fwdProxyAddr), q.httpClient(false, strangerAddr)
	read := "Bearer " + q.tokens["read"]
	fwd := func(method, uri string) http.Header {
		return http.Header{"X-Forwarded-Method": {method}, "X-Forwarded-Uri": {uri}, "X-Forwarded-Proto": {"https"}, "Authorization": {read}}
	}
	tests := []struct {
		name     string
		client   *http.Client
		path     string
		header   http.Header
		status   int
		checkOut func(t *testing.T, h http.Header)
	}{
		{name: "ok/trusted", client: trusted, path: "/auth/forward", header: fwd("GET", "/petstore/v1/pets"), status: 200},
		{name: "fail/untrusted_caller", client: untrusted, path: "/auth/forward", header: fwd("GET", "/petstore/v1/pets"), status: 403},
		{name: "fail/untrusted_caller_nginx", client: untrusted, path: "/auth/nginx", header: http.Header{
			"X-Original-Method": {"GET"}, "X-Original-Uri": {"/petstore/v1/pets"}, "Authorization": {read}}, status: 403},
		{name: "fail/unknown_endpoint", client: trusted, path: "/auth/other", header: fwd("GET", "/petstore/v1/pets"), status: 404},
		{name: "fail/duplicate_uri", client: trusted, path: "/auth/forward", header: http.Header{
			"X-Forwarded-Method": {"GET"}, "X-Forwarded-Uri": {"/petstore/v1/health", "/petstore/v1/pets"}, "Authorization": {read}}, status: 400},
		{name: "fail/duplicate_method", client: trusted, path: "/auth/forward", header: http.Header{
			"X-Forwarded-Method": {"GET", "POST"}, "X-Forwarded-Uri": {"/petstore/v1/pets"}, "Authorization": {read}}, status: 400},
		{name: "fail/duplicate_host", client: trusted, path: "/auth/forward", header: func() http.Header {
			h := fwd("GET", "/petstore/v1/pets")
			h["X-Forwarded-Host"] = []string{"a", "b"}
			return h
		}(), status: 400},
		{name: "fail/missing_uri", client: trusted, path: "/auth/forward", header: http.Header{"X-Forwarded-Method": {"GET"}, "Authorization": {read}}, status: 400},
		{name: "fail/missing_method", client: trusted, path: "/auth/nginx", header: http.Header{"X-Original-Uri": {"/petstore/v1/pets"}, "Authorization": {read}}, status: 400},
		{name: "fail/nginx_headers_at_forward", client: trusted, path: "/auth/forward", header: http.Header{
			"X-Original-Method": {"GET"}, "X-Original-Uri": {"/petstore/v1/pets"}, "Authorization": {read}}, status: 400},
		{name: "fail/absolute_uri", client: trusted, path: "/auth/forward", header: fwd("GET", "https://evil.example/petstore/v1/pets"), status: 400},
		{name: "fail/scheme_relative_uri", client: trusted, path: "/auth/forward", header: fwd("GET", "//evil.example/petstore/v1/pets"), status: 400},
		{name: "fail/relative_uri", client: trusted, path: "/auth/forward", header: fwd("GET", "petstore/v1/pets"), status: 400},
		{name: "fail/fragment", client: trusted, path: "/auth/forward", header: fwd("GET", "/petstore/v1/pets#x"), status: 400},
		{name: "fail/space_in_uri", client: trusted, path: "/auth/forward", header: fwd("GET", "/petstore/v1/pets /x"), status: 400},
		{name: "fail/bad_method", client: trusted, path: "/auth/forward", header: fwd("GE(T", "/petstore/v1/pets"), status: 400},
		{name: "fail/bad_proto", client: trusted, path: "/auth/forward", header: func() http.Header {
			h := fwd("GET", "/petstore/v1/pets")
			h.Set("X-Forwarded-Proto", "gopher")
			return h
		}(), status: 400},
		{name: "fail/encoded_slash", client: trusted, path: "/auth/forward", header: fwd("GET", "/petstore/v1/pets/a%2fb"), status: 400},
		{name: "fail/double_encoding", client: trusted, path: "/auth/forward", header: fwd("GET", "/petstore/v1/pets/a%252fb"), status: 400},
		{name: "fail/backslash", client: trusted, path: "/auth/forward", header: fwd("GET", `/petstore/v1/pets\..\health`), status: 400},
		{name: "fail/traversal_out_of_base", client: trusted, path: "/auth/forward", header: fwd("GET", "/petstore/v1/../v1/pets"), status: 400},
		{name: "fail/tomcat_dot", client: trusted, path: "/auth/forward", header: fwd("GET", "/petstore/v1/..;/pets"), status: 400},
		{name: "fail/method_override_ignored", client: trusted, path: "/auth/forward", header: func() http.Header {
			h := fwd("GET", "/petstore/v1/pets")
			h.Set("X-HTTP-Method-Override", "POST") // read token: would be 403 as a POST
			return h
		}(), status: 200},
		{name: "ok/envoy_http", client: trusted, path: "/envoy/petstore/v1/pets?limit=1", header: http.Header{"Authorization": {read}}, status: 200,
			checkOut: func(t *testing.T, h http.Header) {
				if rm := h.Get("X-Envoy-Auth-Headers-To-Remove"); !strings.Contains(rm, "authorization") {
					t.Errorf("x-envoy-auth-headers-to-remove = %q, want authorization in it", rm)
				}
			}},
		{name: "fail/envoy_http_traversal", client: trusted, path: "/envoy/petstore/v1/%2e%2e/v1/pets", header: http.Header{"Authorization": {read}}, status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", q.faBase+tc.path, nil)
			must(t, err)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			resp, err := tc.client.Do(req)
			must(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status != 200 {
				if resp.Header.Get("X-JWT-Assertion") != "" {
					t.Error("a refusal carries an identity assertion")
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("content-type %q", ct)
				}
			}
			if tc.checkOut != nil {
				tc.checkOut(t, resp.Header)
			}
		})
	}
}

// TestExtAuthzHostile: requests Envoy could not have sent, and callers that
// are not the trusted proxy.
func TestExtAuthzHostile(t *testing.T) {
	t.Parallel() // each starts its own gateway, upstream and proxies on free ports
	q := startQuickstart(t)
	check := q.grpcClient(t, "")
	read := "Bearer " + q.tokens["read"]
	req := func(method, path string, headers map[string]string, cert string) *authv3.CheckRequest {
		return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source:  &authv3.AttributeContext_Peer{Certificate: cert},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: method, Path: path, Host: "localhost", Headers: headers}},
		}}
	}
	auth := map[string]string{"authorization": read}
	tests := []struct {
		name   string
		req    *authv3.CheckRequest
		status int
	}{
		{"ok/allowed", req("GET", "/petstore/v1/pets", auth, ""), 200},
		{"fail/no_http_attributes", &authv3.CheckRequest{}, 400},
		{"fail/relative_path", req("GET", "petstore/v1/pets", auth, ""), 400},
		{"fail/absolute_path", req("GET", "http://evil/petstore/v1/pets", auth, ""), 400},
		{"fail/empty_method", req("", "/petstore/v1/pets", auth, ""), 400},
		{"fail/header_injection", req("GET", "/petstore/v1/pets", map[string]string{"authorization": read, "x-a": "1\r\nx-b: 2"}, ""), 400},
		{"fail/bad_header_name", req("GET", "/petstore/v1/pets", map[string]string{"authorization": read, "x a": "1"}, ""), 400},
		{"fail/bad_content_length", req("GET", "/petstore/v1/pets", map[string]string{"authorization": read, "content-length": "-1"}, ""), 400},
		{"fail/encoded_slash", req("GET", "/petstore/v1/pets/a%2Fb", auth, ""), 400},
		{"fail/garbage_certificate", req("GET", "/partners/v1/orders", nil, "-----BEGIN%20CERTIFICATE-----%0Agarbage%0A-----END%20CERTIFICATE-----"), 401},
		{"fail/untrusted_certificate", req("GET", "/partners/v1/orders", nil, strings.ReplaceAll(string(selfSigned(t)), "\n", "%0A")), 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := check.Check(context.Background(), tc.req)
			must(t, err)
			got := 200
			if d := resp.GetDeniedResponse(); d != nil {
				got = int(d.GetStatus().GetCode())
				if codes.Code(resp.GetStatus().GetCode()) == codes.OK {
					t.Error("a denial with gRPC status OK")
				}
			}
			if got != tc.status {
				t.Fatalf("status %d, want %d", got, tc.status)
			}
		})
	}

	t.Run("fail/untrusted_caller", func(t *testing.T) {
		other := q.grpcClient(t, strangerAddr)
		_, err := other.Check(context.Background(), req("GET", "/petstore/v1/pets", auth, ""))
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("err = %v, want PermissionDenied", err)
		}
	})
}

func (q *quickstart) grpcClient(t *testing.T, local string) authv3.AuthorizationClient {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: q.pool, ServerName: "localhost"}))}
	if local != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		opts = append(opts, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}))
	}
	conn, err := grpc.NewClient(q.grpcAddr, opts...)
	must(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return authv3.NewAuthorizationClient(conn)
}
