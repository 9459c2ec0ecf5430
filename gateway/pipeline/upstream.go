package pipeline

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/bundles"
)

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

// DecideUpstream decides what an allowed request becomes upstream and
// stores it in ev.Upstream, for the reverse proxy (gateway/proxy.go) and
// the front doors (gateway/frontdoors.go) alike. Signing the identity assertion can fail: the
// request is then refused with assertion_failed and the error returned for
// the log.
func (c *Core) DecideUpstream(ev *Evaluation) error {
	op, d := ev.Op, ev.Decision
	up := &Upstream{RemoveQuery: op.stripQuery, RemoveCookies: op.stripCookies}
	if !op.Public {
		up.Identities = satisfiedIdentities(d, ev.Outcomes)
	}
	assertHeader, xfccHeader := c.AssertionHeader, c.XFCCHeader
	up.Set = make([]Header, 0, 2+len(d.Headers))
	for k, v := range d.Headers {
		// The certificate-identity header is the gateway's alone, like the
		// assertion's.
		if safeExtraHeader(k, assertHeader) && (xfccHeader == "" || !strings.EqualFold(k, xfccHeader)) {
			up.Set = append(up.Set, Header{Name: http.CanonicalHeaderKey(k), Value: v})
		}
	}
	up.Remove = make([]string, 0, 3+len(ev.Shape.RemoveHeaders)+len(op.APIKeyHeaders))
	up.Remove = append(up.Remove, ev.Shape.RemoveHeaders...)
	if xfccHeader != "" {
		if x := UpstreamXFCC(up.Identities); x != "" {
			up.Set = append(up.Set, Header{Name: http.CanonicalHeaderKey(xfccHeader), Value: x})
		} else {
			up.Remove = append(up.Remove, http.CanonicalHeaderKey(xfccHeader))
		}
	}
	up.Set = append(up.Set, Header{Name: "X-Request-Id", Value: ev.RequestID})
	up.Remove = append(up.Remove, "Proxy-Authorization")
	if op.readsAuthorization {
		up.Remove = append(up.Remove, "Authorization")
	}
	up.Remove = append(up.Remove, op.APIKeyHeaders...)
	if _, ok := op.secretHeaders[DPoPHeader]; ok {
		up.Remove = append(up.Remove, DPoPHeader) // a DPoP proof is a credential
	}
	if c.Asserter != nil {
		up.AssertionHeader = http.CanonicalHeaderKey(assertHeader)
		if !op.Public {
			tok, err := c.Asserter.Assertion(c.Assertions, &op.assert, up.Identities)
			if err != nil {
				ev.Refuse(ReasonAssertionFailed)
				return err
			}
			up.Assertion = tok
		}
	}
	ev.Upstream = up
	return nil
}

// satisfiedIdentities returns the identities of the alternative the policy
// said was satisfied, in scheme order.
func satisfiedIdentities(d *bundles.Decision, outcomes Outcomes) []*authn.Identity {
	out := make([]*authn.Identity, 0, len(d.Schemes))
	for _, want := range d.Schemes {
		for _, o := range outcomes {
			if o.Identity != nil && o.Scheme == want {
				out = append(out, o.Identity)
			}
		}
	}
	return out
}

// safeExtraHeader keeps policy-supplied headers from overwriting framing,
// hop-by-hop or gateway-owned headers.
func safeExtraHeader(name, assertionHeader string) bool {
	c := http.CanonicalHeaderKey(name)
	switch c {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Te", "Trailer",
		"Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "X-Request-Id", "Authorization":
		return false
	}
	if strings.EqualFold(c, assertionHeader) || strings.HasPrefix(c, "X-Forwarded-") || c == "Forwarded" {
		return false
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if !(ch == '-' || ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z') {
			return false
		}
	}
	return name != ""
}
