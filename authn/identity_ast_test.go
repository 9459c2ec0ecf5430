package authn

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// AST builds its value field by field; it must equal the generic conversion
// of Map, the document's definition, for every kind of identity.
func TestIdentityASTMatchesMap(t *testing.T) {
	at := time.Unix(1700000000, 0)
	cases := []struct {
		name string
		id   *Identity
	}{
		{"minimal", &Identity{Scheme: "s", Type: TypeBasic}},
		{"jwt", &Identity{
			Scheme: "petsOAuth", Type: TypeJWT, Subject: "alice", Issuer: "https://idp.example/", Source: "corp",
			ClientID: "app-1", Application: "shop", Scopes: []string{"read:pets", "write:pets"}, Audience: []string{"petstore"},
			TokenID: "jti-1", IssuedAt: at, NotBefore: at, ExpiresAt: at.Add(time.Hour), CredentialID: "9f86d081",
			Claims:       map[string]any{"sub": "alice", "n": json.Number("3"), "nested": map[string]any{"a": []any{"x", true, nil}}},
			Confirmation: "thumb", SubscriptionValidation: true,
		}},
		{"empty_scopes_claims", &Identity{Scheme: "k", Type: TypeOpaqueToken, Scopes: []string{}, Claims: map[string]any{}}},
		{"basic_groups", &Identity{Scheme: "basicAuth", Type: TypeBasic, Subject: "bob", Source: "users", Groups: []string{"staff"}}},
		{"mtls", &Identity{Scheme: "clientCert", Type: TypeMTLS, Subject: "CN=p", Certificate: &Certificate{
			Subject: "CN=p", CommonName: "p", Issuer: "CN=CA", Serial: "01", FingerprintSHA256: "ab",
			NotBefore: at, NotAfter: at.Add(time.Hour), DNSNames: []string{"p.example"}, SPIFFEID: "spiffe://x/y",
		}}},
		{"api_key", &Identity{Scheme: "partnerKey", Type: TypeAPIKey, Subject: "acme", Plan: "gold",
			APIs: []APIRef{{Name: "petstore"}, {Name: "*", Version: "2"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
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
