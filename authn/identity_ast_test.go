package authn

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// AST builds its value field by field; it must equal the generic conversion
// of Map, the document's definition, for every kind of identity.
func TestIdentityASTMatchesMap(t *testing.T) {
	at := time.Unix(1700000000, 0)
	cases := []struct {
		name   string
		id     *Identity
		claims map[string]any
	}{
		{"minimal", &Identity{Scheme: "s", Type: TypeBasic}, nil},
		{"jwt", &Identity{
			Scheme: "petsOAuth", Type: TypeJWT, Subject: "alice", Issuer: "https://idp.example/", Source: "corp",
			ClientID: "app-1", Application: "shop", Scopes: []string{"read:pets", "write:pets"}, Audience: []string{"petstore"},
			TokenID: "jti-1", IssuedAt: at, NotBefore: at, ExpiresAt: at.Add(time.Hour), CredentialID: "9f86d081",
			Confirmation: "thumb", SubscriptionValidation: true,
		}, map[string]any{"sub": "alice", "iss": "https://idp.example/", "n": json.Number("3"), "scp": []any{"a", "b"},
			"nested": map[string]any{"a": []any{"x", true, nil}}}},
		{"empty_scopes_claims", &Identity{Scheme: "k", Type: TypeOpaqueToken, Scopes: []string{}}, map[string]any{}},
		{"basic_groups", &Identity{Scheme: "basicAuth", Type: TypeBasic, Subject: "bob", Source: "users", Groups: []string{"staff"}}, nil},
		{"mtls", &Identity{Scheme: "clientCert", Type: TypeMTLS, Subject: "CN=p", Certificate: &Certificate{
			Subject: "CN=p", CommonName: "p", Issuer: "CN=CA", Serial: "01", FingerprintSHA256: "ab",
			NotBefore: at, NotAfter: at.Add(time.Hour), DNSNames: []string{"p.example"}, SPIFFEID: "spiffe://x/y",
		}}, nil},
		{"api_key", &Identity{Scheme: "partnerKey", Type: TypeAPIKey, Subject: "acme", Plan: "gold",
			APIs: []APIRef{{Name: "petstore"}, {Name: "*", Version: "2"}}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.claims != nil {
				c.id.SetClaims(c.claims)
			}
			want, err := ast.InterfaceToValue(c.id.Map())
			if err != nil {
				t.Fatal(err)
			}
			if got := c.id.AST(); got.Compare(want) != 0 {
				t.Errorf("AST()\n got %v\nwant %v", got, want)
			}
		})
	}
}

// SetClaims keeps one converted copy of the claims; Claims gives back what
// was set, with the value types of an encoding/json UseNumber decode.
func TestIdentityClaimsRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		claims map[string]any
	}{
		{"none", nil},
		{"empty", map[string]any{}},
		{"typical", map[string]any{"iss": "https://idp.example/", "sub": "alice", "aud": []any{"a", "b"},
			"exp": json.Number("1700003600"), "scope": "read write", "client_id": "app"}},
		{"nested", map[string]any{"cnf": map[string]any{"x5t#S256": "abc"}, "null": nil, "f": false,
			"big": json.Number("1152921504606846976"), "frac": json.Number("1.5"), "deep": []any{[]any{map[string]any{"k": "v"}}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := &Identity{Scheme: "s", Type: TypeJWT}
			id.SetClaims(c.claims)
			if got := id.Claims(); !reflect.DeepEqual(got, c.claims) {
				t.Errorf("Claims() = %#v, want %#v", got, c.claims)
			}
			if got := id.clone().Claims(); !reflect.DeepEqual(got, c.claims) {
				t.Errorf("clone().Claims() = %#v, want %#v", got, c.claims)
			}
		})
	}
}
