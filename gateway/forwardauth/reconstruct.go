package forwardauth

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// The original request is told by the proxy in headers, and each proxy has
// its own: NGINX's auth_request passes what its config sets (the example
// sets X-Original-Method and X-Original-URI), Traefik's forwardAuth and
// Caddy's forward_auth send X-Forwarded-Method/-Uri/-Host/-Proto, and
// Envoy's HTTP ext_authz sends the original method and path behind a path
// prefix. A style reads its own headers only; every one of them must appear
// at most once, and the target must be an origin-form URI, or the request is
// refused with 400: a request whose target two parsers could read
// differently is never allowed.

// errAmbiguous is an original request that cannot be rebuilt without
// guessing.
var errAmbiguous = errors.New("forward-auth: ambiguous original request")

// style rebuilds the original method and target of one proxy family.
type style struct {
	name      string
	methodHdr string // "" : the auth request's own method
	uriHdr    string // "" : the auth request's path after prefix
	prefix    string
}

var (
	styleNGINX   = style{name: "nginx", methodHdr: "X-Original-Method", uriHdr: "X-Original-Uri"}
	styleForward = style{name: "forward", methodHdr: "X-Forwarded-Method", uriHdr: "X-Forwarded-Uri"}
	styleEnvoy   = style{name: "envoy", prefix: EnvoyPrefix}
)

// single returns the one value of a header; absent: "", more than once or
// with control characters: an error.
func single(h http.Header, name string) (string, error) {
	vs := h[name]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		if strings.ContainsAny(vs[0], "\r\n\x00") {
			return "", errAmbiguous
		}
		return vs[0], nil
	}
	return "", errAmbiguous
}

// rebuild turns the auth request into the original request, in place:
// method, target, Host, scheme. Headers other than the style's own are the
// original request's (the proxies copy them); the core removes the
// forwarding headers before anything reads them.
func (s style) rebuild(r *http.Request) error {
	method := r.Method
	if s.methodHdr != "" {
		m, err := single(r.Header, s.methodHdr)
		if err != nil || m == "" || !validToken(m) {
			return errAmbiguous
		}
		method = m
	}
	var target string
	if s.uriHdr != "" {
		t, err := single(r.Header, s.uriHdr)
		if err != nil {
			return err
		}
		target = t
	} else {
		// Envoy: the path as the client sent it follows the prefix.
		rest, ok := strings.CutPrefix(r.RequestURI, s.prefix)
		if !ok {
			return errAmbiguous
		}
		target = rest
	}
	u, err := originForm(target)
	if err != nil {
		return err
	}
	host, err := single(r.Header, "X-Forwarded-Host")
	if err != nil {
		return err
	}
	if host == "" {
		host = r.Host
	}
	proto, err := single(r.Header, "X-Forwarded-Proto")
	if err != nil {
		return err
	}
	switch strings.ToLower(proto) {
	case "https":
		// The policy's input.request.scheme; no certificate rides on it
		// (client certificates come from mtls.forwarded_certificate).
		r.TLS = &tls.ConnectionState{}
	case "", "http":
		r.TLS = nil
	default:
		return errAmbiguous
	}
	r.Method, r.URL, r.RequestURI, r.Host = method, u, target, host
	return nil
}

// originForm parses a request target that must be origin-form: a path that
// starts with one "/", an optional query, no fragment, no raw whitespace or
// control bytes. Percent-encoding is left for the core's normalization,
// which refuses what is ambiguous there (encoded slashes, dot segments
// above the root, double encoding).
func originForm(t string) (*url.URL, error) {
	if t == "" || t[0] != '/' || strings.HasPrefix(t, "//") {
		return nil, errAmbiguous
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c == 0x7f || c == '#' {
			return nil, errAmbiguous
		}
	}
	u, err := url.ParseRequestURI(t)
	if err != nil || u.Host != "" || u.Scheme != "" || u.Opaque != "" {
		return nil, errAmbiguous
	}
	return u, nil
}

func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}
