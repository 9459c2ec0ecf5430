package gateway

import (
	"net"
	"net/http"
	"strings"

	"golang.org/x/net/netutil"
)

// Resource limits at the edge (OWASP API4): what a client can make the
// gateway read, verify and hold. Header size, header/idle timeouts and HTTP/2
// streams are net/http's (listen.*); the rest is here.

// checkLimits answers requests that are too big before any authenticator
// runs: a declared body above the API's limit (413), and a credential
// longer than limits.max_token_bytes (431) — no parsing, no cryptography.
func (g *Generation) checkLimits(r *http.Request, op *compiledOp) (int, string) {
	if r.ContentLength > bodyLimit(g.Config, op.api.API) {
		return http.StatusRequestEntityTooLarge, "body_too_large"
	}
	if op.Public {
		return 0, ""
	}
	max := g.Config.Limits.MaxTokenBytes
	for name := range op.secretHeaders {
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

// limitBody bounds a body whose length was not declared (chunked, HTTP/2):
// reading past the API's limit fails the upstream request, which the proxy
// error handler answers with 413, and the connection is closed.
func limitBody(w http.ResponseWriter, r *http.Request, cfg *Config, api *API) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, bodyLimit(cfg, api))
}

// filterUpgrade removes a protocol upgrade the route does not allow, so the
// reverse proxy forwards a plain request: only `Upgrade: websocket`, only on
// GET operations of APIs with websockets: true. h2c and anything else never
// reach an upstream.
func filterUpgrade(r *http.Request, op *compiledOp) {
	up := r.Header.Values("Upgrade")
	if len(up) == 0 {
		return
	}
	if op.api.Config.WebSockets && r.Method == http.MethodGet && len(up) == 1 && strings.EqualFold(strings.TrimSpace(up[0]), "websocket") {
		return
	}
	r.Header.Del("Upgrade")
	r.Header.Del("Http2-Settings")
}

// limitListener caps open connections per listener (limits.max_connections).
func limitListener(ln net.Listener, cfg *Config) net.Listener {
	if n := cfg.Limits.MaxConnections; n > 0 {
		return netutil.LimitListener(ln, n)
	}
	return ln
}
