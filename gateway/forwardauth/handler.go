// Package forwardauth is the HTTP front door for proxies that ask an
// authorization service before forwarding: NGINX auth_request, Caddy
// forward_auth, Traefik forwardAuth and Envoy's HTTP ext_authz. It rebuilds
// the original request from what the proxy sent (reconstruct.go), runs the
// decision core, and answers 200 with the headers the proxy copies upstream,
// or the proxy's own denial (401/403 with challenges, 503 on a technical
// failure) for the proxy to return to the client.
package forwardauth

import (
	"net/http"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/gateway/frontdoor"
	"github.com/gatehouse/gatehouse/gateway/policybody"
)

// The endpoint family, one listener:
const (
	// NGINXPath takes X-Original-Method and X-Original-URI.
	NGINXPath = "/auth/nginx"
	// ForwardPath takes X-Forwarded-Method/-Uri/-Host/-Proto (Traefik, Caddy).
	ForwardPath = "/auth/forward"
	// EnvoyPrefix is Envoy's HTTP ext_authz path_prefix: the original
	// method and path follow it.
	EnvoyPrefix = "/envoy"
)

// Handler serves the endpoint family.
type Handler struct {
	decider frontdoor.Decider
	peers   frontdoor.Peers
	log     hclog.Logger
}

// New: only callers whose address is in peers are answered; from anyone
// else the forwarding headers are ignored and the answer is 403 without any
// decision, so the endpoint is no oracle for credentials.
func New(d frontdoor.Decider, peers frontdoor.Peers, log hclog.Logger) *Handler {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Handler{decider: d, peers: peers, log: log}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st, ok := styleOf(r.URL.Path)
	if !ok {
		h.write(w, h.decider.Refuse(bare(r), http.StatusNotFound, "no_route"), st)
		return
	}
	if !h.peers.Allowed(r.RemoteAddr) {
		h.write(w, h.decider.Refuse(bare(r), http.StatusForbidden, "untrusted_proxy"), st)
		return
	}
	defer func() {
		if v := recover(); v != nil {
			h.log.Error("forward-auth panicked; denied", "panic", v)
			h.write(w, h.decider.Refuse(bare(r), http.StatusServiceUnavailable, "front_door_failure"), st)
		}
	}()
	if err := st.rebuild(r); err != nil {
		h.write(w, h.decider.Refuse(bare(r), http.StatusBadRequest, "bad_original_request"), st)
		return
	}
	// The proxies send the original request's headers, never its body: an
	// operation whose policy reads the body is refused (fail closed).
	h.write(w, h.decider.Decide(r.WithContext(policybody.WithUnavailable(r.Context()))), st)
}

func styleOf(path string) (style, bool) {
	switch {
	case path == NGINXPath:
		return styleNGINX, true
	case path == ForwardPath:
		return styleForward, true
	case path == EnvoyPrefix || strings.HasPrefix(path, EnvoyPrefix+"/"):
		return styleEnvoy, true
	}
	return style{}, false
}

// bare is a request with only the auth request's own facts, for refusals.
func bare(r *http.Request) *http.Request {
	c := r.Clone(r.Context())
	c.Header = http.Header{}
	if id := r.Header.Get("X-Request-Id"); id != "" {
		c.Header.Set("X-Request-Id", id)
	}
	return c
}

// write answers the proxy. Allowed: 200, no body, the upstream headers the
// proxy copies (auth_request_set, copy_headers, authResponseHeaders,
// allowed_upstream_headers); Envoy also gets the headers to remove in its
// x-envoy-auth-headers-to-remove. Otherwise the denial as the proxy would
// send it; NGINX passes 401 and 403 on and turns any other status into 500.
func (h *Handler) write(w http.ResponseWriter, out *frontdoor.Outcome, st style) {
	wh := w.Header()
	wh.Set("Cache-Control", "no-store")
	if !out.Allow {
		for k, vs := range out.Headers {
			wh[k] = vs
		}
		w.WriteHeader(out.Status)
		_, _ = w.Write(out.Body)
		return
	}
	for _, s := range out.Set {
		wh.Set(s.Name, s.Value)
	}
	for _, r := range out.ResponseHeaders {
		// For the client's response: the proxy copies them only where its
		// config says so (NGINX auth_request_set + add_header, Envoy's
		// allowed_client_headers_on_success); an upstream header of the
		// same name wins here.
		if len(wh[r.Name]) == 0 {
			wh.Set(r.Name, r.Value)
		}
	}
	if a := out.AssertionHeader; a != "" && len(wh[a]) == 0 {
		// A public operation has no assertion. The header is still sent,
		// empty, so that a proxy copying it unconditionally replaces a
		// client's forged copy with nothing (Caddy 2.6 would otherwise copy
		// its placeholder's literal text).
		wh[a] = []string{""}
	}
	if st.name == styleEnvoy.name {
		remove := append([]string(nil), out.Remove...)
		if out.RemoveCookieHeader {
			remove = append(remove, "Cookie")
		}
		if len(remove) > 0 {
			wh.Set("X-Envoy-Auth-Headers-To-Remove", strings.ToLower(strings.Join(remove, ", ")))
		}
	}
	wh.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
