package edge

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		name, in, want, reason string
	}{
		{"ok/plain", "/shapes/single", "/shapes/single", ""},
		{"ok/root", "/", "/", ""},
		{"ok/trailing-slash-kept", "/shapes/single/", "/shapes/single/", ""},
		{"ok/dot", "/shapes/./single", "/shapes/single", ""},
		{"ok/dotdot-inside", "/shapes/a/../single", "/shapes/single", ""},
		{"ok/encoded-dotdot-inside", "/shapes/a/%2e%2E/single", "/shapes/single", ""},
		{"ok/trailing-dotdot", "/shapes/single/x/..", "/shapes/single/", ""},
		{"ok/trailing-dot", "/shapes/single/.", "/shapes/single/", ""},
		{"ok/only-dot", "/.", "/", ""},
		{"ok/decoded-unreserved", "/shapes/%73ingle", "/shapes/single", ""},
		{"ok/encoded-space", "/a/b%20c", "/a/b c", ""},
		{"ok/encoded-percent-alone", "/a/100%25", "/a/100%", ""},
		{"ok/encoded-question", "/a/x%3Fy", "/a/x?y", ""},
		{"ok/utf8", "/a/%C3%A9t%C3%A9", "/a/été", ""},
		{"ok/case-is-data", "/SHAPES/Single", "/SHAPES/Single", ""},
		{"ok/params-are-data", "/shapes/single;x=1", "/shapes/single;x=1", ""},
		{"ok/trailing-dot-in-name", "/shapes/single.", "/shapes/single.", ""},
		{"ok/dotfile", "/a/.well-known/x", "/a/.well-known/x", ""},
		{"fail/relative", "shapes", "", "path_not_absolute"},
		{"fail/empty", "", "", "path_not_absolute"},
		{"fail/asterisk", "*", "", "path_not_absolute"},
		{"fail/encoded-slash", "/shapes%2Fsingle", "", "encoded_separator"},
		{"fail/encoded-slash-lower", "/shapes%2fsingle", "", "encoded_separator"},
		{"fail/encoded-backslash", "/shapes%5Csingle", "", "encoded_separator"},
		{"fail/encoded-nul", "/shapes%00/single", "", "encoded_separator"},
		{"fail/raw-backslash", "/shapes\\..\\admin", "", "backslash"},
		{"fail/double-encoded-slash", "/shapes%252Fsingle", "", "double_encoding"},
		{"fail/double-encoded-dot", "/shapes/%252e%252e/admin", "", "double_encoding"},
		{"fail/bad-escape", "/shapes/%zz", "", "bad_escape"},
		{"fail/truncated-escape", "/shapes/%2", "", "bad_escape"},
		{"fail/encoded-control", "/shapes/%0d%0aX:1", "", "control_character"},
		{"fail/raw-control", "/shapes/\x01", "", "control_character"},
		{"fail/del", "/shapes/%7f", "", "control_character"},
		{"fail/invalid-utf8", "/shapes/%C3%28", "", "invalid_utf8"},
		{"fail/leading-double-slash", "//evil/shapes", "", "empty_segment"},
		{"fail/inner-double-slash", "/shapes//single", "", "empty_segment"},
		{"fail/above-root", "/..", "", "path_traversal"},
		{"fail/above-root-deep", "/shapes/../../etc/passwd", "", "path_traversal"},
		{"fail/encoded-above-root", "/%2e%2e/x", "", "path_traversal"},
		{"fail/tomcat-dotdot-params", "/shapes/public/..;/single", "", "ambiguous_dot_segment"},
		{"fail/tomcat-dot-params", "/shapes/.;x/single", "", "ambiguous_dot_segment"},
		{"fail/three-dots", "/shapes/.../single", "", "ambiguous_dot_segment"},
		{"fail/dot-space", "/shapes/.%20/single", "", "ambiguous_dot_segment"},
		{"fail/dotdot-space", "/shapes/a/..%20/single", "", "ambiguous_dot_segment"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := NormalizePath(tc.in)
			if tc.reason != "" {
				if err == nil || PathReason(err) != tc.reason {
					t.Fatalf("NormalizePath(%q) = %q, %v; want reason %s", tc.in, got, err, tc.reason)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NormalizePath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestRequestPathAbsoluteForm(t *testing.T) {
	tests := []struct {
		name, target, sni, want, reason string
	}{
		{"ok/origin-form", "/shapes/single", "localhost", "/shapes/single", ""},
		{"ok/absolute-form-own-host", "https://localhost:8443/shapes/single", "localhost", "/shapes/single", ""},
		{"ok/absolute-form-own-host-case", "https://LOCALHOST./shapes/single", "localhost", "/shapes/single", ""},
		{"fail/absolute-form-other-host", "https://evil.example/shapes/single", "localhost", "", "absolute_form_host"},
		{"fail/absolute-form-without-sni", "http://localhost/shapes/single", "", "", "absolute_form_host"},
		{"fail/asterisk", "*", "localhost", "", "path_not_absolute"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.ParseRequestURI(tc.target)
			if err != nil {
				t.Fatal(err)
			}
			r := &http.Request{Method: "GET", URL: u, RequestURI: tc.target, Host: u.Host}
			if tc.sni != "" {
				r.TLS = &tls.ConnectionState{ServerName: tc.sni}
			}
			got, _, err := RequestPath(r)
			if tc.reason != "" {
				if err == nil || PathReason(err) != tc.reason {
					t.Fatalf("RequestPath(%q) = %q, %v; want %s", tc.target, got, err, tc.reason)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("RequestPath(%q) = %q, %v; want %q", tc.target, got, err, tc.want)
			}
		})
	}
}

// fuzzRouter is a router with the shapes the e2e tests use: literal paths,
// a template, a public sibling, and a nested base path.
func fuzzRouter() *mux.Router {
	r := mux.NewRouter()
	for i, p := range []string{"/shapes/single", "/shapes/public", "/shapes/items/{id}", "/shapes/items/{id}/admin", "/shapes/v2/x", "/bare/nothing", "/{any}"} {
		r.Handle(p, opID(string(rune('a'+i))))
	}
	return r
}

// opID is a route's handler that names its operation.
type opID string

func (opID) ServeHTTP(http.ResponseWriter, *http.Request) {}

func route(r *mux.Router, path string) string {
	var m mux.RouteMatch
	req := &http.Request{Method: "GET", URL: &url.URL{Path: path}}
	if r.Match(req, &m) {
		if h, ok := m.Handler.(opID); ok {
			return string(h)
		}
	}
	return ""
}

// FuzzNormalizePath: the normalizer never panics, is idempotent over the
// encoding the proxy forwards with, never yields a form it refuses, and the
// upstream decodes the forwarded path to exactly the path (and so the
// route) that was authorized.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{
		"/shapes/single", "/shapes/a/../single", "/shapes/%2e%2e/single", "/shapes%2Fsingle", "//x",
		"/shapes/public/..;/single", "/shapes/items/42;x=1", "/shapes/items/a%3Fb/admin", "/%252e", "/a/100%25",
		"/shapes/./items/%2e/1", "/shapes/items/1/..", "/\\a", "/a/%C3%A9", "/shapes/items/. /admin", "/",
	} {
		f.Add(s)
	}
	r := fuzzRouter()
	f.Fuzz(func(t *testing.T, in string) {
		p, _, err := NormalizePath(in)
		if err != nil {
			if PathReason(err) == "bad_path" {
				t.Fatalf("unnamed rejection %v", err)
			}
			return
		}
		if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || strings.ContainsAny(p, "\\\x00") {
			t.Fatalf("NormalizePath(%q) = %q: not normal", in, p)
		}
		for _, s := range strings.Split(p[1:], "/") {
			if s == "." || s == ".." || dotLike(s) {
				t.Fatalf("NormalizePath(%q) = %q: dot segment %q left", in, p, s)
			}
		}
		fwd := (&url.URL{Path: p}).EscapedPath()
		again, _, err := NormalizePath(fwd)
		if err != nil || again != p {
			t.Fatalf("not idempotent: %q → %q → forwarded %q → %q, %v", in, p, fwd, again, err)
		}
		up, err := url.ParseRequestURI(fwd)
		if err != nil || up.Path != p {
			t.Fatalf("upstream reads %q as %v, %v; authorized %q", fwd, up, err, p)
		}
		if route(r, up.Path) != route(r, p) {
			t.Fatalf("route differs: authorized %q, forwarded %q", p, up.Path)
		}
	})
}
