// Package frontdoor is the contract between the decision core and the front
// doors that serve it to another proxy (Envoy ext_authz, NGINX auth_request,
// Caddy forward_auth, Traefik forwardAuth): the facts of one request go in as
// an *http.Request rebuilt from what the proxy sent, one Outcome comes back,
// and each front door only translates that Outcome into its protocol. The
// reverse proxy acts on the same decisions (gateway/serve.go), so every
// front door answers a request exactly as the proxy would.
package frontdoor

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/gatehouse/gatehouse/authn"
)

// Decider runs the decision core on one reconstructed request. The request
// carries the original method, target, Host, headers and body; its
// RemoteAddr is the address the decision is about, and a client certificate
// the proxy verified travels in its context (authn.WithForwardedCertificates).
// Decide may edit r's headers (client-sent identity headers are removed).
//
// Refuse answers a request the front door itself cannot rebuild (an
// ambiguous or malformed original URI, a method that is no token, a panic)
// with the problem document and audit line the proxy would produce for the
// status; r holds whatever facts were readable.
type Decider interface {
	Decide(r *http.Request) *Outcome
	Refuse(r *http.Request, status int, reason string) *Outcome
}

// Header is one header to set upstream.
type Header struct{ Name, Value string }

// Outcome is what the proxy in front must do with the request.
type Outcome struct {
	// Allow: forward the request (Status is 200). Otherwise answer the client
	// with Status, Headers and Body and forward nothing.
	Allow     bool
	Status    int
	Reason    string
	RequestID string
	// Identities are the verified identities the policy accepted (allow only).
	Identities []*authn.Identity

	// Upstream edits of an allowed request: headers to set (replacing any
	// value the client sent), headers to remove (the consumed credentials
	// and the client-sent identity headers), query parameters to remove
	// (API keys in the query), and a replacement Cookie header when only
	// some cookies were credentials (RemoveCookieHeader: none is left).
	Set                []Header
	Remove             []string
	RemoveQuery        []string
	Cookie             string
	RemoveCookieHeader bool
	// ResponseHeaders are the policy's headers for the client's response
	// on an allow (pipeline.Shape); on a denial they are in Headers.
	ResponseHeaders []Header
	// AssertionHeader names the header of the signed identity assertion
	// (in Set, except on public operations, which have none).
	AssertionHeader string

	// Headers and Body of the answer when the request is not forwarded:
	// WWW-Authenticate challenges, Retry-After, and the problem+json body.
	Headers http.Header
	Body    []byte
}

// Peers is a list of addresses allowed to call a front door: the proxies
// whose word about the original request is trusted.
type Peers []netip.Prefix

// ParsePeers reads addresses and CIDRs.
func ParsePeers(list []string) (Peers, error) {
	var out Peers
	for _, s := range list {
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, &PeerError{s}
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, &PeerError{s}
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// PeerError is an entry of trusted_proxies that is not an address or CIDR.
type PeerError struct{ Value string }

func (e *PeerError) Error() string {
	return "trusted proxy " + `"` + e.Value + `"` + " is not an address or CIDR"
}

// Allowed reports whether addr (host:port, as net/http and gRPC report a
// peer) is one of the peers.
func (p Peers) Allowed(addr string) bool {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, pfx := range p {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}
