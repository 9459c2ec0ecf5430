package authn

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse/gatehouse/internal/jsonstr"
)

// An identity keeps the claims of its token once, as compact JSON: ~250
// bytes for a typical access token, against ~830 for the OPA object the
// policy input embeds (input.credentials[<scheme>].claims) and ~1 KB more
// for the decoded Go map (gateway BenchmarkMemory). The OPA object is built
// from the map SetClaims gets and kept with the identity's value
// (identity_value.go) until the decision cache holds the decision that
// needed it; a later evaluation rebuilds it from the JSON. Claims converts
// back for the few readers that want Go values (explain, the introspection
// endpoint, tests).

// SetClaims sets the verified claims of a token (JWT, introspection answer,
// API key, key-manager token) as decoded by encoding/json with UseNumber.
// Authenticators call it while building an identity, before it is shared.
// A nil map means no claims; an empty map, an empty claims object.
func (id *Identity) SetClaims(claims map[string]any) {
	if claims == nil {
		id.claims = nil
		id.value.Store(nil)
		return
	}
	id.claims = appendClaimsJSON(make([]byte, 0, claimsJSONSize(claims)), claims)
	id.value.Store(&identityValue{claims: claimsObject(claims, 0)})
}

// Claims returns the verified claims as plain JSON values (objects
// map[string]any, arrays []any, numbers json.Number), a new map on every
// call; nil when the credential has none.
func (id *Identity) Claims() map[string]any {
	m, _ := id.decodeClaims()
	return m
}

// decodeClaims decodes the claims SetClaims or setDerivedClaims kept; nil
// for no claims.
func (id *Identity) decodeClaims() (map[string]any, error) {
	raw := id.claims
	if raw == nil {
		return nil, nil
	}
	var derived uint16
	if len(raw) >= 3 && raw[0] == derivedMark {
		derived, raw = uint16(raw[1])|uint16(raw[2])<<8, raw[3:]
	}
	m, err := decodeClaimsJSON(raw)
	if err == nil && derived != 0 {
		id.putDerivedClaims(m, derived)
	}
	return m, err
}

// decodeClaimsJSON decodes what appendClaimsJSON wrote.
func decodeClaimsJSON(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// claimsValue is the OPA object of the kept claims; nil for no claims.
func (id *Identity) claimsValue() ast.Value {
	m, err := id.decodeClaims()
	if m == nil || err != nil {
		if id.claims != nil {
			// Cannot happen: appendClaimsJSON wrote it. An empty object
			// rather than a missing member keeps the document's shape.
			return ast.NewObject()
		}
		return nil
	}
	return claimsObject(m, 0)
}

// claimsJSONSize estimates the encoded size of the claims, so that the
// encoding is one allocation of about the right size.
func claimsJSONSize(m map[string]any) int {
	n := 2
	for k, v := range m {
		n += memberJSONSize(k, v)
	}
	return n
}

// memberJSONSize estimates the encoded size of one member.
func memberJSONSize(k string, v any) int {
	n := len(k) + 4
	switch v := v.(type) {
	case string:
		n += len(v) + 2
	case json.Number:
		n += len(v)
	default:
		n += 16
	}
	return n
}

// appendClaimsJSON appends v as JSON: the values encoding/json decodes
// (map[string]any, []any, string, json.Number, bool, nil), plus whatever
// else encoding/json can encode (numbers from tests). Strings are escaped as
// encoding/json escapes them, invalid UTF-8 included, so a decode gives back
// what encoding/json would have decoded from the token.
func appendClaimsJSON(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case string:
		return jsonstr.Append(b, v, false)
	case json.Number:
		if v == "" {
			return append(b, '0')
		}
		return append(b, v...)
	case float64:
		if !math.IsInf(v, 0) && !math.IsNaN(v) {
			return strconv.AppendFloat(b, v, 'g', -1, 64)
		}
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendClaimsJSON(b, e)
		}
		return append(b, ']')
	case map[string]any:
		return appendClaimsObject(b, v, nil)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// appendClaimsObject appends m as a JSON object, leaving out the members
// skip reports (nil: none).
func appendClaimsObject(b []byte, m map[string]any, skip func(name string, v any) bool) []byte {
	b = append(b, '{')
	first := true
	for k, e := range m {
		if skip != nil && skip(k, e) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = jsonstr.Append(b, k, false)
		b = append(b, ':')
		b = appendClaimsJSON(b, e)
	}
	return append(b, '}')
}

// internClaims are the claims whose values repeat across the tokens of an
// issuer (issuer, audiences, clients, scopes, roles, tenants): their string
// values are interned like the identity's own. Subjects and token ids are
// unique per token and are not.
var internClaims = map[string]bool{
	"iss": true, "aud": true, "azp": true, "client_id": true, "cid": true, "appid": true,
	"scope": true, "scp": true, "roles": true, "groups": true, "permissions": true,
	"tid": true, "tenant": true, "idp": true, "acr": true, "amr": true, "ver": true, "typ": true,
}

// claimsObject converts a claims map with interned member names. depth 0 is
// the claims object itself: only its members' names and values are worth
// interning (nested objects are rare and token-specific).
func claimsObject(m map[string]any, depth int) ast.Value {
	if len(m) == 0 {
		return ast.NewObject()
	}
	pairs := make([][2]*ast.Term, 0, len(m))
	for k, v := range m {
		intern := depth == 0 && internClaims[k]
		key := internedTerm(k)
		if depth > 0 {
			key = ast.StringTerm(k)
		}
		pairs = append(pairs, [2]*ast.Term{key, claimTerm(v, intern, depth+1)})
	}
	return ast.NewObject(pairs...)
}

func claimTerm(v any, intern bool, depth int) *ast.Term {
	switch v := v.(type) {
	case nil:
		return ast.InternedNullTerm
	case bool:
		return ast.InternedTerm(v)
	case string:
		if intern {
			return internedTerm(v)
		}
		return ast.StringTerm(v)
	case json.Number:
		return ast.NumberTerm(v)
	case []any:
		terms := make([]*ast.Term, len(v))
		for i, e := range v {
			terms[i] = claimTerm(e, intern, depth+1)
		}
		return ast.ArrayTerm(terms...)
	case map[string]any:
		return ast.NewTerm(claimsObject(v, depth))
	}
	// Other Go values (float64 from a decoder without UseNumber, ints from
	// tests) take OPA's generic conversion.
	if av, err := ast.InterfaceToValue(v); err == nil {
		return ast.NewTerm(av)
	}
	return ast.InternedNullTerm
}
