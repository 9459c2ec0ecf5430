package authn

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/authn/jose"
)

// tokenTimes are a token's NumericDate claims; zero when absent.
type tokenTimes struct {
	iat, nbf, exp time.Time
}

// claimError is a claim check failure: the Rejection reason and a detail
// that never quotes the token.
type claimError struct {
	reason Reason
	detail string
}

func claimFail(reason Reason, detail string) *claimError {
	return &claimError{reason: reason, detail: detail}
}

// maxNumericDate keeps NumericDates inside what time.Time and float64
// represent exactly (year ~285 million); anything beyond is malformed.
const maxNumericDate = 1 << 53

// numericDate reads a NumericDate claim (RFC 7519 §2): a JSON number of
// seconds since the epoch, possibly fractional.
func numericDate(claims map[string]any, name string) (time.Time, bool, *claimError) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false, claimFail(ReasonMalformed, name+" is not a number")
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false, claimFail(ReasonMalformed, name+" is not a valid NumericDate")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// validate checks the verified claims and header against the issuer's
// configuration at time now. The signature has been verified already; iss
// was matched exactly when the issuer was picked.
func (is *issuer) validate(claims map[string]any, hdr *jose.Header, now time.Time) (tokenTimes, *claimError) {
	var t tokenTimes
	var ok bool
	var ce *claimError
	if t.exp, ok, ce = numericDate(claims, "exp"); ce != nil {
		return t, ce
	} else if !ok {
		return t, claimFail(ReasonInvalidCredentials, "exp claim is required")
	}
	var hasNbf, hasIat bool
	if t.nbf, hasNbf, ce = numericDate(claims, "nbf"); ce != nil {
		return t, ce
	}
	if t.iat, hasIat, ce = numericDate(claims, "iat"); ce != nil {
		return t, ce
	}
	if !now.Before(t.exp.Add(is.leeway)) {
		return t, claimFail(ReasonExpired, "token expired")
	}
	if hasNbf && now.Add(is.leeway).Before(t.nbf) {
		return t, claimFail(ReasonNotYetValid, "token not valid yet (nbf)")
	}
	if hasIat && now.Add(is.leeway).Before(t.iat) {
		return t, claimFail(ReasonNotYetValid, "token issued in the future (iat)")
	}
	if is.maxLifetime > 0 {
		start := t.iat
		if !hasIat {
			start = t.nbf
		}
		if !hasIat && !hasNbf {
			return t, claimFail(ReasonInvalidCredentials, "max lifetime set but the token has neither iat nor nbf")
		}
		if t.exp.Sub(start) > is.maxLifetime {
			return t, claimFail(ReasonInvalidCredentials, "token lifetime exceeds the issuer's max lifetime")
		}
	}
	if !is.anyAud {
		auds, err := stringOrList(claims["aud"])
		if err != nil {
			return t, claimFail(ReasonMalformed, "aud is not a string or an array of strings")
		}
		if !slices.ContainsFunc(auds, func(a string) bool { _, found := slices.BinarySearch(is.auds, a); return found }) {
			return t, claimFail(ReasonAudienceMismatch, "no configured audience in aud")
		}
	}
	for _, c := range is.required {
		if v, ok := claims[c]; !ok || v == nil {
			return t, claimFail(ReasonInvalidCredentials, "required claim "+strconv.Quote(c)+" is missing")
		}
	}
	if len(is.types) > 0 && !slices.Contains(is.types, jose.NormalizeTyp(hdr.Typ)) {
		return t, claimFail(ReasonInvalidCredentials, "typ header is not allowed")
	}
	if len(is.types) == 0 && !jose.AccessTokenType(hdr.Typ) {
		return t, claimFail(ReasonInvalidCredentials, "typ header marks another kind of JWT than an access token")
	}
	if _, _, ce := confirmation(claims); ce != nil {
		return t, ce
	}
	return t, nil
}

// stringOrList reads a claim that is a string or an array of strings (aud).
// A missing claim is an empty list.
func stringOrList(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, errors.New("not a string")
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, errors.New("not a string or array")
}

// identity builds the identity document of a verified token.
func (is *issuer) identity(scheme string, key CacheKey, claims map[string]any, t tokenTimes) *Identity {
	id := &Identity{
		Scheme:       scheme,
		Type:         TypeJWT,
		Subject:      claimString(claims, is.subjectClaim),
		Issuer:       internString(claimString(claims, "iss")),
		Source:       is.name,
		TokenID:      claimString(claims, "jti"),
		IssuedAt:     t.iat,
		NotBefore:    t.nbf,
		ExpiresAt:    t.exp,
		CredentialID: key.CredentialID(),

		SubscriptionValidation: is.subscription,
	}
	if is.clientClaim != "" {
		id.ClientID = claimString(claims, is.clientClaim)
	} else {
		for _, c := range []string{"client_id", "azp", "cid"} {
			if id.ClientID = claimString(claims, c); id.ClientID != "" {
				break
			}
		}
	}
	id.ClientID = internString(id.ClientID)
	if is.appClaim != "" {
		id.Application = internString(applicationClaim(claims[is.appClaim]))
	}
	if is.scopeClaim != "" {
		id.Scopes = scopeValues(nil, claims[is.scopeClaim])
	} else {
		id.Scopes = scopeValues(scopeValues(nil, claims["scope"]), claims["scp"])
	}
	id.Scopes = internList(SortedUnique(id.Scopes))
	if auds, err := stringOrList(claims["aud"]); err == nil && len(auds) > 0 {
		id.Audience = internList(SortedUnique(auds))
	}
	// validate has read cnf (confirmation): only known members remain.
	id.Confirmation, id.DPoPKey, _ = confirmation(claims)
	id.setDerivedClaims(claims) // last: it keeps what the fields give back as a mask
	return id
}

func claimString(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return s
}

// scopeValues appends the scopes of a claim value: a space-separated string
// (RFC 6749 §3.3), or an array of strings of which each element is one
// scope, never split: ["read admin"] is the one scope "read admin", which
// no operation asks for (a scope token cannot hold a space), not read and
// admin. Other element types, and empty elements, are ignored: fewer
// scopes never grant more.
func scopeValues(dst []string, v any) []string {
	switch v := v.(type) {
	case string:
		dst = append(dst, strings.Fields(v)...)
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				dst = append(dst, s)
			}
		}
	}
	return dst
}

// applicationClaim reads an application claim: a string, or an object whose
// "id", "uuid" or "name" member (first present, string or number) names it.
func applicationClaim(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		for _, k := range []string{"id", "uuid", "name"} {
			switch e := v[k].(type) {
			case string:
				if e != "" {
					return e
				}
			case json.Number:
				return e.String()
			}
		}
	}
	return ""
}
