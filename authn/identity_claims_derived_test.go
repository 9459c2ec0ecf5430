package authn

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// derivedIdentity builds the identity of verified claims as the JWT
// authenticator does (issuer.identity), with the NumericDates read by
// numericDate; ok is false for claims the authenticator would refuse.
func derivedIdentity(claims map[string]any) (*Identity, bool) {
	var times tokenTimes
	var ce *claimError
	if times.exp, _, ce = numericDate(claims, "exp"); ce != nil {
		return nil, false
	}
	if times.nbf, _, ce = numericDate(claims, "nbf"); ce != nil {
		return nil, false
	}
	if times.iat, _, ce = numericDate(claims, "iat"); ce != nil {
		return nil, false
	}
	is := &issuer{name: "corp", subjectClaim: "sub"}
	return is.identity("oauth", CacheKeyOf("token"), claims, times), true
}

// TestDerivedClaims: the claims a JWT identity keeps as a mask come back
// exactly, in Claims and in the policy's value, and claims that differ in
// form from what the fields give back are kept as they are.
func TestDerivedClaims(t *testing.T) {
	tests := []struct {
		name    string
		claims  string
		derived bool // some member is kept as a mask
	}{
		{"ok/typical", `{"iss":"https://idp.example/","sub":"alice","aud":"api","jti":"j-1","iat":1700000000,"nbf":1700000000,"exp":1700003600,"scope":"read write","client_id":"app"}`, true},
		{"ok/aud-list", `{"iss":"i","aud":["a","b"],"exp":1700003600}`, true},
		{"kept/aud-list-unsorted", `{"iss":"i","aud":["b","a"]}`, true},
		{"kept/aud-duplicates", `{"aud":["a","a"]}`, false},
		{"kept/scope-unsorted", `{"scope":"write read"}`, false},
		{"kept/scope-double-space", `{"scope":"read  write"}`, false},
		{"kept/scope-and-scp", `{"scope":"read","scp":["write"]}`, false},
		{"kept/fractional-exp", `{"exp":1700003600.5}`, false},
		{"kept/exponent-exp", `{"exp":1.7e9}`, false},
		{"kept/empty-sub", `{"sub":""}`, false},
		{"kept/azp-client", `{"azp":"app"}`, false},
		{"ok/client-id-and-azp", `{"client_id":"app","azp":"other"}`, true},
		{"ok/nested-kept", `{"sub":"s","cnf":{"x5t#S256":"abc"},"roles":["a"]}`, true},
		{"ok/empty", `{}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			claims, err := decodeClaimsJSON([]byte(tc.claims))
			if err != nil {
				t.Fatal(err)
			}
			id, ok := derivedIdentity(claims)
			if !ok {
				t.Fatal("claims refused")
			}
			if derived := len(id.claims) > 0 && id.claims[0] == derivedMark; derived != tc.derived {
				t.Fatalf("derived = %v, want %v (%q)", derived, tc.derived, id.claims)
			}
			checkDerived(t, id, claims)
		})
	}
}

func checkDerived(t *testing.T, id *Identity, claims map[string]any) {
	t.Helper()
	if got := id.Claims(); !reflect.DeepEqual(got, claims) {
		t.Fatalf("Claims() = %#v, want %#v", got, claims)
	}
	before := id.AST()
	id.ReleaseValue()
	if after := id.AST(); after.Compare(before) != 0 {
		t.Fatalf("rebuilt value differs\n got %v\nwant %v", after, before)
	}
	if want := claimsObject(claims, 0); id.claimsValue().Compare(want) != 0 {
		t.Fatalf("claims value %v, want %v", id.claimsValue(), want)
	}
}

// FuzzDerivedClaims: for any claims object a JWT could carry, the identity
// built from it gives its claims back exactly, however many of them its
// fields derive.
func FuzzDerivedClaims(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://idp.example/","sub":"alice","aud":["a","b"],"jti":"x","exp":1900000000,"iat":1800000000,"nbf":1800000000,"scope":"a b","client_id":"c"}`,
		`{"aud":"a","scope":"b a","scp":["c"],"exp":1.5}`,
		`{"sub":1,"iss":null,"jti":["x"],"client_id":{"a":1}}`,
		`{"exp":"1900000000","aud":[1,"a"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var claims map[string]any
		if err := dec.Decode(&claims); err != nil || claims == nil {
			return
		}
		id, ok := derivedIdentity(claims)
		if !ok {
			return
		}
		checkDerived(t, id, claims)
	})
}

// An introspection answer's identity gives its claims back exactly too,
// with the members its fields derive (key managers' identities are cached
// like tokens).
func TestDerivedIntrospectionClaims(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name   string
		answer string
	}{
		{"ok/typical", `{"active":true,"iss":"https://km.example/","sub":"alice","aud":"api","client_id":"app","scope":"read write","exp":1800003600,"iat":1799999000,"jti":"t-1","username":"alice@example"}`},
		{"ok/username-subject", `{"active":true,"username":"bob","exp":1800003600,"scope":"b a"}`},
		{"ok/aud-list", `{"active":true,"aud":["a","b"],"cnf":{"x5t#S256":"abc"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			claims, err := decodeClaimsJSON([]byte(tc.answer))
			if err != nil {
				t.Fatal(err)
			}
			check := &introspectionCheck{name: "km", leeway: DefaultLeeway}
			id, rej := check.identity(claims, "credid", now)
			if rej != nil {
				t.Fatal(rej)
			}
			checkDerived(t, id, claims)
			if cp := id.WithScheme("oauth"); !reflect.DeepEqual(cp.Claims(), claims) {
				t.Fatalf("scheme copy's claims %#v", cp.Claims())
			}
		})
	}
}

// An API key's identity gives its claims back exactly.
func TestDerivedAPIKeyClaims(t *testing.T) {
	claims, err := decodeClaimsJSON([]byte(`{"iss":"https://sts.example/","sub":"acme","jti":"k-1","iat":1700000000,"exp":1800000000,"scope":"read","application":"shop","plan":"gold","apis":[{"name":"pets"}],"token_use":"api_key"}`))
	if err != nil {
		t.Fatal(err)
	}
	var times tokenTimes
	times.iat, _, _ = numericDate(claims, "iat")
	times.exp, _, _ = numericDate(claims, "exp")
	is := &apiKeyIssuer{name: "sts", iss: "https://sts.example/"}
	checkDerived(t, is.identity("key", CacheKeyOf("raw-key"), claims, times, []APIRef{{Name: "pets"}}), claims)
}
