package authn

import (
	"encoding/json"

	"github.com/open-policy-agent/opa/v1/ast"
)

// An identity keeps the claims of its token once, as the OPA value the
// policy input embeds (input.credentials[<scheme>].claims). It used to keep
// the decoded Go map as well, plus its own converted copy in the identity's
// value: a cached credential held its claims twice, ~1 KB of its ~5.6 KB
// (gateway BenchmarkMemory). Claims converts back for the few readers that
// want Go values (explain, the introspection endpoint, tests).

// SetClaims sets the verified claims of a token (JWT, introspection answer,
// API key, key-manager token) as decoded by encoding/json with UseNumber.
// Authenticators call it while building an identity, before it is shared.
// A nil map means no claims; an empty map, an empty claims object.
func (id *Identity) SetClaims(claims map[string]any) {
	if claims == nil {
		id.claims = nil
		return
	}
	id.claims = claimsObject(claims, 0)
}

// Claims returns the verified claims as plain JSON values (objects
// map[string]any, arrays []any, numbers json.Number), a new map on every
// call; nil when the credential has none.
func (id *Identity) Claims() map[string]any {
	if id.claims == nil {
		return nil
	}
	v, err := ast.JSON(id.claims)
	if err != nil {
		return nil
	}
	m, _ := v.(map[string]any)
	return m
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
