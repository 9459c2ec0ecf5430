package forwardauth

import (
	"net/http"
	"strings"
	"testing"
)

func TestRebuild(t *testing.T) {
	tests := []struct {
		name    string
		st      style
		uri     string // the auth request's own target
		header  http.Header
		method  string
		target  string
		https   bool
		wantErr bool
	}{
		{name: "ok/nginx", st: styleNGINX, uri: NGINXPath, header: http.Header{"X-Original-Method": {"POST"}, "X-Original-Uri": {"/a/b?c=d"}}, method: "POST", target: "/a/b?c=d"},
		{name: "ok/forward_https", st: styleForward, uri: ForwardPath, header: http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Uri": {"/x"}, "X-Forwarded-Proto": {"https"}}, method: "GET", target: "/x", https: true},
		{name: "ok/envoy", st: styleEnvoy, uri: "/envoy/a%20b?q=1", method: "GET", target: "/a%20b?q=1"},
		{name: "fail/envoy_no_slash", st: styleEnvoy, uri: "/envoyx", wantErr: true},
		{name: "fail/two_uris", st: styleNGINX, uri: NGINXPath, header: http.Header{"X-Original-Method": {"GET"}, "X-Original-Uri": {"/a", "/b"}}, wantErr: true},
		{name: "fail/no_method", st: styleForward, uri: ForwardPath, header: http.Header{"X-Forwarded-Uri": {"/a"}}, wantErr: true},
		{name: "fail/nul", st: styleForward, uri: ForwardPath, header: http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Uri": {"/a\x00"}}, wantErr: true},
		{name: "fail/tab", st: styleForward, uri: ForwardPath, header: http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Uri": {"/a\tb"}}, wantErr: true},
		{name: "fail/absolute", st: styleForward, uri: ForwardPath, header: http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Uri": {"http://h/a"}}, wantErr: true},
		{name: "fail/asterisk", st: styleForward, uri: ForwardPath, header: http.Header{"X-Forwarded-Method": {"OPTIONS"}, "X-Forwarded-Uri": {"*"}}, wantErr: true},
		{name: "fail/proto", st: styleForward, uri: ForwardPath, header: http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Uri": {"/a"}, "X-Forwarded-Proto": {"ftp"}}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := http.NewRequest("GET", "http://gatehouse"+tc.uri, nil)
			if err != nil {
				t.Fatal(err)
			}
			r.RequestURI = tc.uri
			for k, v := range tc.header {
				r.Header[k] = v
			}
			err = tc.st.rebuild(r)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("rebuilt %s %s, want an error", r.Method, r.RequestURI)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Method != tc.method || r.RequestURI != tc.target || (r.TLS != nil) != tc.https {
				t.Errorf("got %s %s tls=%v", r.Method, r.RequestURI, r.TLS != nil)
			}
		})
	}
}

// FuzzRebuild: whatever a proxy sends, a rebuilt request has a token method
// and an origin-form target whose path is what the URL says.
func FuzzRebuild(f *testing.F) {
	for _, s := range []string{"/a/b?c=d", "//x", "/%2e%2e/", "http://h/", "/a#b", "*", "/ä", "/a?b=%zz"} {
		f.Add("GET", s)
	}
	f.Fuzz(func(t *testing.T, method, uri string) {
		r := &http.Request{Method: "GET", Header: http.Header{"X-Forwarded-Method": {method}, "X-Forwarded-Uri": {uri}}, RequestURI: ForwardPath}
		if err := styleForward.rebuild(r); err != nil {
			return
		}
		if !validToken(r.Method) || !strings.HasPrefix(r.RequestURI, "/") || strings.HasPrefix(r.RequestURI, "//") {
			t.Fatalf("rebuilt %q %q", r.Method, r.RequestURI)
		}
		if r.URL == nil || r.URL.Host != "" || r.URL.Opaque != "" || r.URL.Fragment != "" {
			t.Fatalf("url %#v", r.URL)
		}
	})
}
