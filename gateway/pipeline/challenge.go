package pipeline

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/openapi"
)

// How a denial is told: the operation's WWW-Authenticate challenges (the
// problem+json body is problem.go). Which reason answers with which status,
// challenge and title is the one table in reasons.go.

// challenge is one WWW-Authenticate challenge of an operation's scheme.
type challenge struct {
	scheme string // OpenAPI scheme name
	kind   string // "Basic" or "Bearer"
	realm  string
	// dpop: the bearer scheme takes DPoP proofs (allowed or required):
	// it also sends a DPoP challenge (dpopChallenge).
	dpop dpopChallenge
}

// challengeFor returns the challenge scheme def sends on 401, if its
// authenticator a has one (authn.Challenger: API keys and client
// certificates have no HTTP challenge). realm is the scheme's configured
// realm, else the API's name.
func challengeFor(def *openapi.SchemeDef, a authn.Authenticator, realm string) (challenge, bool) {
	ch, ok := a.(authn.Challenger)
	if !ok {
		return challenge{}, false
	}
	c := challenge{scheme: def.Name, kind: ch.ChallengeScheme(), realm: realm}
	if dc, ok := a.(authn.DPoPChallenger); ok {
		c.dpop = newDPoPChallenge(dc)
	}
	return c, true
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// SetChallenges writes one WWW-Authenticate header per scheme of the
// operation, following RFC 7617 and RFC 6750.
func (op *Op) SetChallenges(h http.Header, d *bundles.Decision, reason Reason, dn Answer) {
	if !dn.Challenge {
		return
	}
	for _, c := range op.challenges {
		if c.dpop.mode != "" && c.dpop.mode != authn.DPoPOff {
			c.dpop.write(h, c, d, reason, dn)
			if c.dpop.mode == authn.DPoPRequired {
				continue // a Bearer challenge would invite what the scheme refuses
			}
		}
		var b strings.Builder
		b.WriteString(c.kind)
		b.WriteString(" realm=")
		b.WriteString(quote(c.realm))
		switch c.kind {
		case "Basic":
			if reason == ReasonInsufficientScope {
				continue
			}
			b.WriteString(`, charset="UTF-8"`)
		case "Bearer":
			switch {
			case reason == ReasonInsufficientScope:
				b.WriteString(`, error="insufficient_scope"`)
				if len(d.RequiredScopes) > 0 {
					b.WriteString(", scope=")
					b.WriteString(quote(strings.Join(d.RequiredScopes, " ")))
				}
			case dn.BearerError != "":
				// Only the scheme whose token was bad gets error=invalid_token.
				// binding_required: RFC 8705 §3, a bound token without its
				// certificate is an invalid token.
				// A DPoP proof's error goes on the DPoP challenge only.
				if rr, bad := d.Rejected[c.scheme]; bad && !dpopReason(rr) || reason == ReasonRevoked || reason == ReasonBindingRequired {
					b.WriteString(`, error="`)
					b.WriteString(dn.BearerError)
					b.WriteString(`"`)
				}
			}
		}
		h.Add("WWW-Authenticate", b.String())
	}
}
