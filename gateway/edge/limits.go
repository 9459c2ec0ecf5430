// Package edge holds the defences that run before a request reaches the
// decision core: HTTP/1 framing inspection against request smuggling, the
// one path normalization routing, policy and upstream all share, resource
// limits (bodies, credentials, connections), protocol-upgrade filtering,
// method-override stripping, and CORS preflights.
package edge

import (
	"net"
	"net/http"
	"strings"

	"golang.org/x/net/netutil"
)

// Resource limits at the edge (OWASP API4): what a client can make the
// gateway read, verify and hold. Header size, header/idle timeouts and HTTP/2
// streams are net/http's (listen.*); the rest is here.

// CheckLimits answers requests that are too big before any authenticator
// runs: a declared body above bodyLimit (413), and a credential longer than
// maxToken (limits.max_token_bytes) in one of secretHeaders, the headers
// that carry the operation's credentials (431) — no parsing, no
// cryptography. A public operation has no credential to measure.
func CheckLimits(r *http.Request, bodyLimit int64, public bool, secretHeaders map[string]struct{}, maxToken int) (int, string) {
	if r.ContentLength > bodyLimit {
		return http.StatusRequestEntityTooLarge, "body_too_large"
	}
	if public {
		return 0, ""
	}
	max := maxToken
	for name := range secretHeaders {
		if name == "Cookie" {
			continue
		}
		for _, v := range r.Header[name] {
			if name == "Authorization" || name == "Proxy-Authorization" {
				// The limit is on the credential, after the scheme name.
				if i := strings.IndexByte(v, ' '); i >= 0 && i <= 32 {
					v = v[i+1:]
				}
			}
			if len(v) > max {
				return http.StatusRequestHeaderFieldsTooLarge, "token_too_large"
			}
		}
	}
	return 0, ""
}

// LimitBody bounds a body whose length was not declared (chunked, HTTP/2):
// reading past the API's limit fails the upstream request, which the proxy
// error handler answers with 413, and the connection is closed.
func LimitBody(w http.ResponseWriter, r *http.Request, limit int64) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
}

// FilterUpgrade removes a protocol upgrade the route does not allow, so the
// reverse proxy forwards a plain request: only `Upgrade: websocket`, only on
// GET operations of APIs with websockets: true. h2c and anything else never
// reach an upstream.
func FilterUpgrade(r *http.Request, websockets bool) {
	up := r.Header.Values("Upgrade")
	if len(up) == 0 {
		return
	}
	if websockets && r.Method == http.MethodGet && len(up) == 1 && strings.EqualFold(strings.TrimSpace(up[0]), "websocket") {
		return
	}
	r.Header.Del("Upgrade")
	r.Header.Del("Http2-Settings")
}

// LimitListener caps open connections per listener at n
// (limits.max_connections; 0: no cap).
func LimitListener(ln net.Listener, n int) net.Listener {
	if n > 0 {
		return netutil.LimitListener(ln, n)
	}
	return ln
}
