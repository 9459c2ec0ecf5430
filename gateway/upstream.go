package gateway

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// upstream decides what an allowed request becomes upstream and stores it
// in ev.Upstream, for the reverse proxy (proxy.go) and the front doors
// (frontdoors.go) alike. Signing the identity assertion can fail: the
// request is then refused with assertion_failed and the error returned for
// the log.
func (g *Generation) upstream(ev *Evaluation) error {
	op, d := ev.Op, ev.Decision
	up := &pipeline.Upstream{RemoveQuery: op.stripQuery, RemoveCookies: op.stripCookies}
	if !op.Public {
		up.Identities = satisfiedIdentities(d, ev.Outcomes)
	}
	assertHeader, xfccHeader := g.Config.UpstreamIdentity.Header, g.Config.MTLS.UpstreamHeader
	up.Set = make([]pipeline.Header, 0, 2+len(d.Headers))
	for k, v := range d.Headers {
		// The certificate-identity header is the gateway's alone, like the
		// assertion's.
		if safeExtraHeader(k, assertHeader) && (xfccHeader == "" || !strings.EqualFold(k, xfccHeader)) {
			up.Set = append(up.Set, pipeline.Header{Name: http.CanonicalHeaderKey(k), Value: v})
		}
	}
	up.Remove = make([]string, 0, 3+len(ev.Shape.RemoveHeaders)+len(op.apiKeyHeaders))
	up.Remove = append(up.Remove, ev.Shape.RemoveHeaders...)
	if xfccHeader != "" {
		if x := pipeline.UpstreamXFCC(up.Identities); x != "" {
			up.Set = append(up.Set, pipeline.Header{Name: http.CanonicalHeaderKey(xfccHeader), Value: x})
		} else {
			up.Remove = append(up.Remove, http.CanonicalHeaderKey(xfccHeader))
		}
	}
	up.Set = append(up.Set, pipeline.Header{Name: "X-Request-Id", Value: ev.RequestID})
	up.Remove = append(up.Remove, "Proxy-Authorization")
	if op.readsAuthorization {
		up.Remove = append(up.Remove, "Authorization")
	}
	up.Remove = append(up.Remove, op.apiKeyHeaders...)
	if _, ok := op.secretHeaders[dpopHeader]; ok {
		up.Remove = append(up.Remove, dpopHeader) // a DPoP proof is a credential
	}
	if g.asserter != nil {
		up.AssertionHeader = http.CanonicalHeaderKey(assertHeader)
		if !op.Public {
			tok, err := g.asserter.Assertion(g.assertions, &op.assert, up.Identities)
			if err != nil {
				ev.refuse(pipeline.ReasonAssertionFailed)
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
func satisfiedIdentities(d *bundles.Decision, outcomes pipeline.Outcomes) []*authn.Identity {
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
