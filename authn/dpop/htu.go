package dpop

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// The htu claim names the request's URI without query and fragment (RFC
// 9449 §4.2), compared after RFC 3986 §6.2.2–6.2.3 normalization (§4.3):
// both sides are reduced to scheme://host[:port]/path with the scheme and
// host lowercased, the scheme's default port dropped, an empty path as "/"
// and the path's percent-encoding in one canonical form (decoded, then
// escaped as Go's url package does). The request side is the request as
// the gateway received it: https when it came over TLS (or a front door
// said so: forward-auth's X-Forwarded-Proto, ext_authz's scheme), its Host,
// and its path, which the gateway has already refused unless it was in
// normal form (gateway/edge/normalize.go refuses encoded separators and
// dot segments), so decoding it loses nothing.

var errHTU = errors.New("htu is not an absolute http(s) URI")

// NormalizeHTU returns the comparable form of an htu claim.
func NormalizeHTU(htu string) (string, error) {
	u, err := url.Parse(htu)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", errHTU
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", errHTU
	}
	return join(scheme, u.Host, u.Path), nil
}

// RequestHTU returns the comparable URI of the request as received.
func RequestHTU(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return join(scheme, r.Host, r.URL.Path)
}

func join(scheme, host, path string) string {
	host = strings.ToLower(host)
	if h, port, err := net.SplitHostPort(host); err == nil {
		if scheme == "https" && port == "443" || scheme == "http" && port == "80" {
			host = h
			if strings.Contains(h, ":") {
				host = "[" + h + "]"
			}
		}
	}
	if path == "" {
		path = "/"
	}
	p := (&url.URL{Path: path}).EscapedPath()
	return scheme + "://" + host + p
}
