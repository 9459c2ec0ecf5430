package authn

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/authn/jose"
)

// IntrospectionClaims names the members of an introspection answer that
// hold identity facts. Empty fields take the RFC 7662 names. It is also the
// key_managers[].claims section of the gateway's configuration.
type IntrospectionClaims struct {
	// Scope: default both "scope" (space-separated string, RFC 7662) and
	// "scp" (array, as some servers send).
	Scope string `json:"scope"`
	// ClientID: default "client_id".
	ClientID string `json:"client_id"`
	// Subject: default "sub", else "username".
	Subject string `json:"subject"`
	// Username: default "username" (kept in the claims; the subject when
	// there is no sub).
	Username string `json:"username"`
	// Audience: default "aud" (string or array).
	Audience string `json:"audience"`
	// Expiry: default "exp" (NumericDate).
	Expiry string `json:"exp"`
	// Application: the member naming the application (default none).
	Application string `json:"application"`
}

// errIntrospectionAnswer is wrapped by answers that are not RFC 7662
// responses (a technical failure of the key manager, never the client's).
var errIntrospectionAnswer = errors.New("not an RFC 7662 introspection answer")

// ParseIntrospection decodes an introspection response body: exactly one
// JSON object, numbers kept as json.Number, nothing after it. It reports
// whether the token is active: only the JSON boolean true is; false is
// inactive; a missing or non-boolean "active" ("true", 1, null) makes the
// answer invalid (an error), because a server that sends it is broken and
// guessing would be failing open. Duplicate member names, invalid UTF-8
// and lone surrogate escapes make it invalid too (jose.CheckJSON).
func ParseIntrospection(body []byte) (claims map[string]any, active bool, err error) {
	// {"active":false,…,"active":true} would be read last-wins by
	// encoding/json: an answer with duplicate members (at any depth) or
	// invalid UTF-8 is no answer.
	if err := jose.CheckJSON(body); err != nil {
		return nil, false, errors.Join(errIntrospectionAnswer, err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, false, errors.Join(errIntrospectionAnswer, errors.New("body is not a JSON object"))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false, errors.Join(errIntrospectionAnswer, errors.New("data after the JSON object"))
	}
	switch v := claims["active"].(type) {
	case bool:
		return claims, v, nil
	case nil:
		return nil, false, errors.Join(errIntrospectionAnswer, errors.New(`"active" is missing or null`))
	default:
		return nil, false, errors.Join(errIntrospectionAnswer, errors.New(`"active" is not a JSON boolean`))
	}
}

// introspectionCheck is what a key manager's configuration demands of an
// active answer.
type introspectionCheck struct {
	name         string
	claims       IntrospectionClaims
	issuer       string   // required iss, if set
	audiences    []string // sorted; one must be in aud, if set
	subscription bool
	leeway       time.Duration
}

// identity turns an active answer into an identity (no scheme yet: see
// KeyManager), or a Rejection when
// the answer is active but not acceptable: past its exp (RFC 7662 answers
// are snapshots; a cached or slow answer must not outlive the token), not
// yet valid, malformed members, another iss, no configured audience.
func (c *introspectionCheck) identity(claims map[string]any, credID string, now time.Time) (*Identity, *Rejection) {
	m := c.claims
	exp, hasExp, ce := numericDate(claims, or(m.Expiry, "exp"))
	if ce == nil {
		_, _, ce = numericDate(claims, "iat")
	}
	if ce == nil {
		_, _, ce = numericDate(claims, "nbf")
	}
	if ce != nil {
		return nil, Reject("", ReasonMalformed, "introspection answer: "+ce.detail, nil)
	}
	iat, _, _ := numericDate(claims, "iat")
	nbf, hasNbf, _ := numericDate(claims, "nbf")
	if hasExp && !now.Before(exp) {
		return nil, Reject("", ReasonInactiveToken, "active answer past its exp", nil)
	}
	if hasNbf && now.Add(c.leeway).Before(nbf) {
		return nil, Reject("", ReasonNotYetValid, "token not valid yet (nbf)", nil)
	}
	iss, isStr := claims["iss"].(string)
	if _, present := claims["iss"]; present && !isStr {
		return nil, Reject("", ReasonMalformed, "introspection answer: iss is not a string", nil)
	}
	if c.issuer != "" && iss != c.issuer {
		return nil, Reject("", ReasonUnknownIssuer, "iss is not the key manager's configured issuer", nil)
	}
	auds, err := stringOrList(claims[or(m.Audience, "aud")])
	if err != nil {
		return nil, Reject("", ReasonMalformed, "introspection answer: aud is not a string or an array of strings", nil)
	}
	if len(c.audiences) > 0 && !slices.ContainsFunc(auds, func(a string) bool {
		_, found := slices.BinarySearch(c.audiences, a)
		return found
	}) {
		return nil, Reject("", ReasonAudienceMismatch, "no configured audience in aud", nil)
	}
	ti := &Identity{
		Type:         TypeOpaqueToken,
		Source:       c.name,
		Issuer:       internString(iss),
		ClientID:     internString(claimString(claims, or(m.ClientID, "client_id"))),
		TokenID:      claimString(claims, "jti"),
		IssuedAt:     iat,
		NotBefore:    nbf,
		CredentialID: credID,

		SubscriptionValidation: c.subscription,
	}
	if hasExp {
		ti.ExpiresAt = exp
	}
	if m.Subject != "" {
		ti.Subject = claimString(claims, m.Subject)
	} else if ti.Subject = claimString(claims, "sub"); ti.Subject == "" {
		ti.Subject = claimString(claims, or(m.Username, "username"))
	}
	if m.Application != "" {
		ti.Application = internString(applicationClaim(claims[m.Application]))
	}
	if m.Scope != "" {
		ti.Scopes = scopeValues(nil, claims[m.Scope])
	} else {
		ti.Scopes = scopeValues(scopeValues(nil, claims["scope"]), claims["scp"])
	}
	ti.Scopes = internList(SortedUnique(ti.Scopes))
	if len(auds) > 0 {
		ti.Audience = internList(SortedUnique(auds))
	}
	if ti.Confirmation, ti.DPoPKey, ce = confirmation(claims); ce != nil {
		return nil, Reject("", ce.reason, "introspection answer: "+ce.detail, nil)
	}
	ti.setDerivedClaims(claims) // last: it keeps what the fields give back as a mask
	return ti, nil
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
