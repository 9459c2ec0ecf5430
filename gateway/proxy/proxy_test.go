package proxy

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/gateway/openapi"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// seen is what a loopback upstream received.
type seen struct {
	mu    sync.Mutex
	path  string
	query string
	h     http.Header
}

// TestForward: an allowed request reaches a real loopback upstream under
// the API's upstream path, with the decision's pipeline.Upstream applied
// over whatever the client sent.
func TestForward(t *testing.T) {
	var got seen
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.mu.Lock()
		got.path, got.query, got.h = r.URL.Path, r.URL.RawQuery, r.Header.Clone()
		got.mu.Unlock()
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(up.Close)
	u, err := url.Parse(up.URL + "/svc")
	if err != nil {
		t.Fatal(err)
	}
	api := &pipeline.API{API: &openapi.API{Name: "pets", BasePath: "/pets/v1", Upstream: u}}
	tr, err := NewTransports().Get(Endpoint{Scheme: u.Scheme, Host: u.Host, ResponseTimeout: 5 * time.Second, MaxIdleConnsPerHost: 4, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	api.Transport = tr
	op := pipeline.NewOp(api, &openapi.Operation{API: api.API, ID: "list", Method: "GET", Path: "/items"}, nil, nil)
	p := &Proxy{Log: hclog.NewNullLogger(), RequestID: func(http.ResponseWriter) string { return "rid" }}

	tests := []struct {
		name   string
		target string
		header http.Header
		sni    string
		up     pipeline.Upstream
		path   string
		query  string
		want   map[string]string // header → value ("": absent)
	}{
		{
			name: "ok/removes_and_sets", target: "/pets/v1/items?limit=2",
			header: http.Header{"Authorization": {"Bearer t"}, "X-Request-Id": {"client"}, "X-Keep": {"k"}},
			up: pipeline.Upstream{Remove: []string{"Authorization"}, Set: []pipeline.Header{{Name: "X-Request-Id", Value: "rid"}},
				AssertionHeader: "X-Jwt-Assertion", Assertion: "a.b.c"},
			path: "/svc/items", query: "limit=2",
			want: map[string]string{"Authorization": "", "X-Request-Id": "rid", "X-Keep": "k", "X-Jwt-Assertion": "a.b.c"},
		},
		{
			name: "ok/api_key_query_and_cookie_removed", target: "/pets/v1/items?api_key=secret&limit=2",
			header: http.Header{"Cookie": {"k=secret; theme=dark"}},
			up:     pipeline.Upstream{RemoveQuery: []string{"api_key"}, RemoveCookies: []string{"k"}},
			path:   "/svc/items", query: "limit=2",
			want: map[string]string{"Cookie": "theme=dark"},
		},
		{
			name: "ok/assertion_over_client_copy", target: "/pets/v1/items",
			header: http.Header{"X-Jwt-Assertion": {"forged"}},
			up:     pipeline.Upstream{AssertionHeader: "X-Jwt-Assertion", Assertion: "signed"},
			path:   "/svc/items",
			want:   map[string]string{"X-Jwt-Assertion": "signed"},
		},
		{
			name: "ok/forwarded_host_from_sni", target: "/pets/v1/items", sni: "api.example",
			path: "/svc/items", want: map[string]string{"X-Forwarded-Host": "api.example"},
		},
		{
			name: "fail/client_forwarded_host_dropped", target: "/pets/v1/items",
			header: http.Header{"X-Forwarded-Host": {"evil.example"}},
			path:   "/svc/items", want: map[string]string{"X-Forwarded-Host": ""},
		},
		{
			name: "ok/base_path_only", target: "/pets/v1",
			path: "/svc/", want: map[string]string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			for k, vs := range tc.header {
				r.Header[k] = vs
			}
			if tc.sni != "" {
				r.TLS = &tls.ConnectionState{ServerName: tc.sni}
			}
			upv := tc.up
			w := httptest.NewRecorder()
			p.Forward(w, r, &Request{Op: op, Upstream: &upv, BodyLimit: 1 << 20})
			if w.Code != http.StatusTeapot {
				t.Fatalf("status %d, want the upstream's 418: %s", w.Code, w.Body.String())
			}
			got.mu.Lock()
			defer got.mu.Unlock()
			if got.path != tc.path || got.query != tc.query {
				t.Errorf("upstream got %s?%s, want %s?%s", got.path, got.query, tc.path, tc.query)
			}
			for k, v := range tc.want {
				if g := strings.Join(got.h.Values(k), ","); g != v {
					t.Errorf("%s: %q, want %q", k, g, v)
				}
			}
		})
	}
}

// TestForwardUpstreamDown: an upstream that refuses connections is a 502
// problem, never the error text.
func TestForwardUpstreamDown(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(up.URL)
	up.Close()
	api := &pipeline.API{API: &openapi.API{Name: "pets", BasePath: "/pets/v1", Upstream: u}}
	tr, err := NewTransports().Get(Endpoint{Scheme: u.Scheme, Host: u.Host, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	api.Transport = tr
	op := pipeline.NewOp(api, &openapi.Operation{API: api.API, ID: "list", Method: "GET", Path: "/items"}, nil, nil)
	p := &Proxy{Log: hclog.NewNullLogger(), RequestID: func(http.ResponseWriter) string { return "rid" }}
	w := httptest.NewRecorder()
	p.Forward(w, httptest.NewRequest(http.MethodGet, "/pets/v1/items", nil), &Request{Op: op, Upstream: &pipeline.Upstream{}, BodyLimit: 1 << 20})
	if w.Code != http.StatusBadGateway || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d %q, want a 502 problem", w.Code, w.Header().Get("Content-Type"))
	}
	if strings.Contains(w.Body.String(), "refused") {
		t.Fatalf("the error text reached the client: %s", w.Body.String())
	}
}
