package extauthz

import (
	"context"
	"net/url"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

func httpReq(hr *authv3.AttributeContext_HttpRequest, src *authv3.AttributeContext_Peer) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Source: src, Request: &authv3.AttributeContext_Request{Http: hr}}}
}

func TestRequestOf(t *testing.T) {
	ca := authntest.Must(authntest.NewCA())
	cli := authntest.Must(ca.Client("envoy-client"))
	src := &authv3.AttributeContext_Peer{
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: "2001:db8::1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 443}}}},
		Certificate: url.QueryEscape(string(cli.CertPEM())),
	}
	t.Run("ok/everything", func(t *testing.T) {
		r, err := requestOf(context.Background(), httpReq(&authv3.AttributeContext_HttpRequest{
			Method: "POST", Path: "/a/b?x=1", Host: "api.example", Scheme: "https", Protocol: "HTTP/2",
			Headers: map[string]string{":path": "/ignored", "authorization": "Bearer t", "content-length": "3", "host": "other"},
			Body:    "abc",
		}, src))
		if err != nil {
			t.Fatal(err)
		}
		if r.Method != "POST" || r.URL.Path != "/a/b" || r.URL.RawQuery != "x=1" || r.Host != "api.example" || r.TLS == nil || r.ProtoMajor != 2 {
			t.Errorf("request %s %s host=%s tls=%v proto=%d", r.Method, r.URL, r.Host, r.TLS != nil, r.ProtoMajor)
		}
		if r.RemoteAddr != "[2001:db8::1]:443" || r.ContentLength != 3 || r.Header.Get("Authorization") != "Bearer t" || r.Header.Get("Host") != "" {
			t.Errorf("remote %s length %d headers %v", r.RemoteAddr, r.ContentLength, r.Header)
		}
		chain, via := authn.ClientCertificates(r)
		if !via || len(chain) != 1 || chain[0].Subject.CommonName != "envoy-client" {
			t.Errorf("certificate %v via %v", chain, via)
		}
	})
	t.Run("ok/header_map", func(t *testing.T) {
		r, err := requestOf(context.Background(), httpReq(&authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: "/", HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
				{Key: "x-a", RawValue: []byte("1")}, {Key: "x-a", Value: "2"},
			}},
		}, nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Header.Values("X-A"); len(got) != 2 {
			t.Errorf("x-a = %v", got)
		}
	})
	for _, tc := range []struct {
		name string
		hr   *authv3.AttributeContext_HttpRequest
	}{
		{"fail/method", &authv3.AttributeContext_HttpRequest{Method: "G T", Path: "/"}},
		{"fail/path", &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "*"}},
		{"fail/scheme", &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/", Scheme: "gopher"}},
		{"fail/header_value", &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/", Headers: map[string]string{"a": "b\nc"}}},
		{"fail/content_length", &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/", Headers: map[string]string{"content-length": "x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := requestOf(context.Background(), httpReq(tc.hr, nil)); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// FuzzRequestOf: any method, path and header Envoy could send either
// fails or gives a request with a token method and an origin-form target.
func FuzzRequestOf(f *testing.F) {
	for _, s := range []string{"/a?b", "//a", "http://x/", "/%00", "*", "/a b"} {
		f.Add("GET", s, "x-h", "v", "")
	}
	f.Add("GET", "/", "a", "b", "-----BEGIN%20CERTIFICATE-----%0AAA%0A-----END%20CERTIFICATE-----")
	f.Fuzz(func(t *testing.T, method, path, hk, hv, cert string) {
		r, err := requestOf(context.Background(), httpReq(&authv3.AttributeContext_HttpRequest{
			Method: method, Path: path, Headers: map[string]string{hk: hv},
		}, &authv3.AttributeContext_Peer{Certificate: cert}))
		if err != nil {
			return
		}
		if !validMethod(r.Method) || r.URL == nil || !strings.HasPrefix(r.RequestURI, "/") || r.URL.Host != "" {
			t.Fatalf("rebuilt %q %q", r.Method, r.RequestURI)
		}
	})
}
