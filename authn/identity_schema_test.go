package authn_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/schemas"
)

func identitySchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := schemas.FS.ReadFile("identity.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("identity.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("identity.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Identity documents produced by the authenticators match
// schemas/identity.schema.json, through their JSON form.
func TestIdentityDocumentsMatchSchema(t *testing.T) {
	s := identitySchema(t)
	f := newJWTFixture(t)
	j := f.jwt(t, []*authn.Issuer{f.a})
	jwtID, err := authenticate(t, j, mint(t, f.rsA, f.with(issA, func(c map[string]any) {
		c["client_id"] = "app"
		c["cnf"] = map[string]any{"x5t#S256": "abc"}
	})))
	if err != nil {
		t.Fatal(err)
	}
	b, err := authn.NewBasic("basicAuth", newBasicUsers(t))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", basicHeader("alice", "correct horse"))
	basicID, err := b.Authenticate(r)
	if err != nil {
		t.Fatal(err)
	}
	leaf := authntest.Must(authntest.Must(authntest.NewCA()).Client("device-1"))
	full := &authn.Identity{
		Scheme: "clientCert", Type: authn.TypeMTLS, Subject: "CN=device-1", Source: "partners",
		CredentialID: authn.CredentialID("x"), Plan: "gold", ClientID: "c", Application: "a",
		Certificate: &authn.Certificate{
			Subject: "CN=device-1", CommonName: "device-1", Issuer: "CN=CA", Serial: "1",
			FingerprintSHA256: leaf.Thumbprint(), NotBefore: time.Unix(1, 0), NotAfter: time.Unix(2, 0),
			SPIFFEID: "spiffe://example.org/x",
		},
		APIs: []authn.APIRef{{Name: "petstore", Version: "1.0"}, {Name: "orders"}},
	}
	// A certificate the mtls authenticator verified, with every SAN kind.
	pki := newTestPKI(t)
	trust := authntest.Must(authn.NewTrust("partners", []string{pki.rootFile}, nil))
	m := authntest.Must(authn.NewMTLS("clientCert", authn.MTLSConfig{Trust: trust, ApplicationFrom: "cn"}))
	verified, err := m.Authenticate(certRequest(chainOf(pki.valid)))
	if err != nil {
		t.Fatal(err)
	}
	km := newKMFixture(t, func(c *authn.IntrospectionConfig) {
		c.SubscriptionValidation, c.Claims.Application = true, "client_id"
	})
	opaqueID, err := km.auth(km.issue(map[string]any{"cnf": map[string]any{"x5t#S256": "abc"}, "nbf": km.clock.Now().Unix()}))
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]*authn.Identity{"jwt": jwtID, "basic": basicID, "mtls": full, "mtls-verified": verified, "opaque_token": opaqueID} {
		t.Run(name, func(t *testing.T) {
			raw, err := json.Marshal(id)
			if err != nil {
				t.Fatal(err)
			}
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(v); err != nil {
				t.Fatalf("%s\n%v", raw, err)
			}
		})
	}
	bad, _ := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(`{"scheme":"x","type":"jwt","scopes":[],"password":"p"}`)))
	if s.Validate(bad) == nil {
		t.Fatal("schema accepts unknown members")
	}
}
