package assertion

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
)

// referenceClaims is claims as it was written with a map[string]any, before
// the struct: the JSON of both must be the same bytes.
func referenceClaims(a *Signer, op *Operation, ids []*authn.Identity, now, exp time.Time) map[string]any {
	aud := a.audience
	if aud == "" {
		aud = op.API
	}
	c := map[string]any{
		"iss": a.issuer, "aud": aud, "iat": now.Unix(), "exp": exp.Unix(),
		"api": map[string]string{"name": op.API, "version": op.Version}, "operation": op.ID,
	}
	put := func(k, v string) {
		if v != "" {
			c[k] = v
		}
	}
	schemes := make([]string, 0, len(ids))
	var scopes []string
	var principal *authn.Identity
	for _, id := range ids {
		schemes = append(schemes, id.Scheme)
		scopes = append(scopes, id.Scopes...)
		if principal == nil || rank(id) < rank(principal) {
			principal = id
		}
	}
	c["schemes"] = schemes
	if len(scopes) > 0 {
		c["scope"] = strings.Join(authn.SortedUnique(scopes), " ")
	}
	if principal != nil {
		c["sub"] = principal.Subject
		put("credential_issuer", principal.Issuer)
		put("client_id", principal.ClientID)
		put("application", principal.Application)
		put("credential_type", principal.Type)
	}
	for _, id := range ids {
		if id.Certificate != nil {
			c["certificate"] = certificateClaim(id.Certificate)
		}
	}
	return c
}

func TestClaimsJSONUnchanged(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	exp := now.Add(5 * time.Minute)
	jwt := &authn.Identity{Scheme: "petsOAuth", Type: authn.TypeJWT, Subject: "alice", Issuer: "https://idp.example/",
		ClientID: "app-1", Application: "shop", Scopes: []string{"write:pets", "read:pets"}}
	cert := &authn.Identity{Scheme: "clientCert", Type: authn.TypeMTLS, Subject: "CN=p", Certificate: &authn.Certificate{
		Subject: "CN=p", Issuer: "CN=CA", Serial: "01", FingerprintSHA256: "ab", NotAfter: exp, DNSNames: []string{"p.example"}}}
	basic := &authn.Identity{Scheme: "basicAuth", Type: authn.TypeBasic, Subject: "bob", Scopes: []string{"read:pets"}}
	cases := []struct {
		name     string
		audience string
		op       *Operation
		ids      []*authn.Identity
	}{
		{"jwt", "", &Operation{API: "petstore", Version: "1.0.0", ID: "getPet"}, []*authn.Identity{jwt}},
		{"configured_audience", "internal", &Operation{API: "petstore", ID: "getPet"}, []*authn.Identity{jwt}},
		{"cert_and_basic", "", &Operation{API: "petstore", Version: "2", ID: "x"}, []*authn.Identity{basic, cert}},
		{"empty_subject_no_scopes", "", &Operation{API: "a", ID: "b"}, []*authn.Identity{{Scheme: "k", Type: authn.TypeAPIKey}}},
		{"no_identities", "", &Operation{API: "a", ID: "b"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := &Signer{issuer: "gatehouse", audience: c.audience}
			got, err := json.Marshal(a.claims(c.op, c.ids, now, exp))
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(referenceClaims(a, c.op, c.ids, now, exp))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("claims JSON\n got %s\nwant %s", got, want)
			}
		})
	}
}
