package pipeline

import "github.com/gatehouse/gatehouse/authn"

// Upstream is what an allowed request becomes on its way to the upstream,
// decided once for every front door: the reverse proxy applies it to the
// outbound request, and the front doors hand it to the proxy in front of
// them (gateway/frontdoor). Removals come first, then the headers to set,
// then the assertion; a front door's proxy may apply removals after
// additions, so a name that is set is never also removed.
type Upstream struct {
	// Identities are the verified identities of the alternative the policy
	// accepted, in scheme order (none on a public operation).
	Identities []*authn.Identity
	// Remove are the request headers the decision keeps from the upstream
	// (Shape.RemoveHeaders), the credentials the operation consumed (Proxy-Authorization,
	// Authorization when a scheme read it, API-key headers) and the
	// certificate-identity header when the gateway writes none.
	Remove []string
	// RemoveQuery are API-key query parameters; RemoveCookies API-key
	// cookies (the other cookies stay).
	RemoveQuery   []string
	RemoveCookies []string
	// Set are headers that replace any value the client sent: the policy's
	// headers (never a gateway-owned one), the verified certificate in XFCC
	// form, and X-Request-Id.
	Set []Header
	// AssertionHeader names the signed identity assertion's header ("" when
	// upstream_identity is off); Assertion is its value ("" on a public
	// operation).
	AssertionHeader string
	Assertion       string
}
