package pipeline

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/openapi"
	"github.com/gatehouse/gatehouse/gateway/ratelimit"
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

// DenialHeaders writes the headers of the answer to a refused request
// with status into h — the policy's response headers first, the gateway's
// own over them (Retry-After, the operation's WWW-Authenticate challenges)
// — and returns the problem's title ("": the status text). The reverse
// proxy and every front door answer with these headers.
func (ev *Evaluation) DenialHeaders(h http.Header, status int) (title string) {
	ev.Shape.ApplyResponseHeaders(h)
	switch status {
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "5")
	case http.StatusTooManyRequests:
		h.Set("Retry-After", strconv.Itoa(ratelimit.RetrySeconds(ev.RetryAfter)))
	}
	if ev.Reason == ReasonTokenInQuery && ev.Op != nil {
		ev.Op.SetInvalidRequest(h)
	}
	if ev.Decision != nil && status == ev.Answer.Status {
		ev.Op.SetChallenges(h, ev.Decision, ev.Reason, ev.Answer)
		title = ev.Answer.Title
	}
	return title
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
