package authn

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Most claims of an access token are already the identity's own fields:
// iss, sub, jti, client_id, exp, iat, nbf, scope and aud were ~190 of the
// ~190 bytes of claims JSON a cached credential kept (gateway
// BenchmarkMemory). setDerivedClaims leaves out of the JSON every such
// claim whose value is exactly what the field gives back, and records
// which in a mask; decodeClaims puts them back from the fields, so Claims
// and the policy's input are unchanged. An identity's fields never change
// once it is built, so what is derived stays exact.

// derivedMark starts kept claims with a derived-members mask (two bytes,
// little endian) before the JSON; plain JSON starts with '{'.
const derivedMark = 0x01

// The members that can be derived, by mask bit.
const (
	derivedIss = 1 << iota
	derivedSub
	derivedJti
	derivedClientID
	derivedExp
	derivedIat
	derivedNbf
	derivedScope
	derivedAudString
	derivedAudList
)

// setDerivedClaims is SetClaims for an identity whose fields are all set:
// the claims its fields give back exactly are kept as a mask only. Call it
// last while building the identity.
func (id *Identity) setDerivedClaims(claims map[string]any) {
	if claims == nil {
		id.SetClaims(nil)
		return
	}
	var mask uint16
	size := 5
	for name, v := range claims {
		if bit := id.derives(name, v); bit != 0 {
			mask |= bit
			continue
		}
		size += memberJSONSize(name, v)
	}
	if mask == 0 {
		id.SetClaims(claims)
		return
	}
	b := make([]byte, 3, size)
	b[0], b[1], b[2] = derivedMark, byte(mask), byte(mask>>8)
	id.claims = appendClaimsObject(b, claims, func(name string, v any) bool { return id.derives(name, v) != 0 })
	id.value.Store(&identityValue{claims: claimsObject(claims, 0)})
}

// derives is the mask bit of claim name when the identity's fields give
// back v exactly, else 0.
func (id *Identity) derives(name string, v any) uint16 {
	switch name {
	case "iss":
		return sameString(v, id.Issuer, derivedIss)
	case "sub":
		return sameString(v, id.Subject, derivedSub)
	case "jti":
		return sameString(v, id.TokenID, derivedJti)
	case "client_id":
		return sameString(v, id.ClientID, derivedClientID)
	case "exp":
		return sameDate(v, id.ExpiresAt, derivedExp)
	case "iat":
		return sameDate(v, id.IssuedAt, derivedIat)
	case "nbf":
		return sameDate(v, id.NotBefore, derivedNbf)
	case "scope":
		if s, ok := v.(string); ok && len(id.Scopes) > 0 && joinedBySpaces(s, id.Scopes) {
			return derivedScope
		}
	case "aud":
		switch a := v.(type) {
		case string:
			if len(id.Audience) == 1 && a == id.Audience[0] {
				return derivedAudString
			}
		case []any:
			if len(a) == 0 || len(a) != len(id.Audience) {
				return 0
			}
			for i, e := range a {
				if s, ok := e.(string); !ok || s != id.Audience[i] {
					return 0
				}
			}
			return derivedAudList
		}
	}
	return 0
}

// joinedBySpaces reports whether s is list joined by single spaces.
func joinedBySpaces(s string, list []string) bool {
	for i, e := range list {
		if i > 0 {
			if s == "" || s[0] != ' ' {
				return false
			}
			s = s[1:]
		}
		rest, ok := strings.CutPrefix(s, e)
		if !ok {
			return false
		}
		s = rest
	}
	return s == ""
}

func sameString(v any, field string, bit uint16) uint16 {
	if s, ok := v.(string); ok && s != "" && s == field {
		return bit
	}
	return 0
}

// sameDate: a NumericDate written as the integer the field's time gives.
func sameDate(v any, field time.Time, bit uint16) uint16 {
	n, ok := v.(json.Number)
	if !ok || field.IsZero() || field.Nanosecond() != 0 {
		return 0
	}
	var buf [24]byte
	if string(n) == string(strconv.AppendInt(buf[:0], field.Unix(), 10)) {
		return bit
	}
	return 0
}

// putDerivedClaims puts back the members mask says were left out.
func (id *Identity) putDerivedClaims(m map[string]any, mask uint16) {
	put := func(bit uint16, name string, v any) {
		if mask&bit != 0 {
			m[name] = v
		}
	}
	put(derivedIss, "iss", id.Issuer)
	put(derivedSub, "sub", id.Subject)
	put(derivedJti, "jti", id.TokenID)
	put(derivedClientID, "client_id", id.ClientID)
	date := func(t time.Time) json.Number { return json.Number(strconv.FormatInt(t.Unix(), 10)) }
	if mask&derivedExp != 0 {
		m["exp"] = date(id.ExpiresAt)
	}
	if mask&derivedIat != 0 {
		m["iat"] = date(id.IssuedAt)
	}
	if mask&derivedNbf != 0 {
		m["nbf"] = date(id.NotBefore)
	}
	put(derivedScope, "scope", strings.Join(id.Scopes, " "))
	if mask&derivedAudString != 0 && len(id.Audience) == 1 {
		m["aud"] = id.Audience[0]
	}
	if mask&derivedAudList != 0 {
		l := make([]any, len(id.Audience))
		for i, a := range id.Audience {
			l[i] = a
		}
		m["aud"] = l
	}
}
