package authn

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// ReleaseValue drops the memoized value; the next AST builds an equal one
// from the identity's fields and its claims' JSON, for every kind of
// identity, and so does a scheme's copy made after the release.
func TestIdentityReleaseValue(t *testing.T) {
	at := time.Unix(1700000000, 0)
	cases := []struct {
		name   string
		id     *Identity
		claims map[string]any
	}{
		{"basic", &Identity{Scheme: "basicAuth", Type: TypeBasic, Subject: "bob", Groups: []string{"staff"}}, nil},
		{"jwt", &Identity{Scheme: "oauth", Type: TypeJWT, Subject: "alice", Issuer: "https://idp.example/",
			Scopes: []string{"read"}, Audience: []string{"api"}, IssuedAt: at, ExpiresAt: at.Add(time.Hour)},
			map[string]any{"sub": "alice", "exp": json.Number("1700003600"), "aud": []any{"api"}, "scope": "read",
				"nested": map[string]any{"k": []any{"v", true, nil, json.Number("1.50")}}}},
		{"empty_claims", &Identity{Scheme: "k", Type: TypeOpaqueToken}, map[string]any{}},
		{"api_key", &Identity{Scheme: "key", Type: TypeAPIKey, Plan: "gold", APIs: []APIRef{{Name: "pets"}}}, map[string]any{"apis": []any{}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.claims != nil {
				c.id.SetClaims(c.claims)
			}
			before := c.id.AST()
			if again := c.id.AST(); again != before {
				t.Fatal("AST is not memoized")
			}
			c.id.ReleaseValue()
			after := c.id.AST()
			if after == before {
				t.Fatal("ReleaseValue kept the value")
			}
			if after.Compare(before) != 0 {
				t.Fatalf("rebuilt value differs\n got %v\nwant %v", after, before)
			}
			c.id.ReleaseValue()
			claims := ast.StringTerm("claims")
			cp := c.id.WithScheme("other")
			if got, want := cp.AST().(ast.Object).Get(claims), before.(ast.Object).Get(claims); !got.Equal(want) {
				t.Fatalf("scheme copy's claims %v, want %v", got, want)
			}
			if got := c.id.Claims(); !reflect.DeepEqual(got, c.claims) {
				t.Fatalf("Claims() = %#v, want %#v", got, c.claims)
			}
		})
	}
}

// The claims' JSON decodes to what encoding/json decoded from the token,
// strings of every awkward kind included.
func TestClaimsJSONStrings(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"plain", "alice", "alice"},
		{"quote_backslash", `a"b\c`, `a"b\c`},
		{"controls", "a\nb\tc\rd\x00e\x1f", "a\nb\tc\rd\x00e\x1f"},
		{"unicode", "ünïcødé ✓ 𝄞", "ünïcødé ✓ 𝄞"},
		{"html", "<a>&</a>", "<a>&</a>"},
		{"line_separators", "a\u2028b\u2029c", "a\u2028b\u2029c"},
		{"invalid_utf8", "a\xffb", "a\ufffdb"},
		{"empty", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := &Identity{}
			id.SetClaims(map[string]any{c.in: c.in})
			got := id.Claims()
			if len(got) != 1 {
				t.Fatalf("claims %#v", got)
			}
			for k, v := range got {
				if k != c.want || v != c.want {
					t.Fatalf("got %q: %q, want %q", k, v, c.want)
				}
			}
		})
	}
}

// FuzzClaimsJSON: any claims object encoding/json decodes (UseNumber) comes
// back from an identity unchanged, and its rebuilt policy value equals the
// one built from the decoded map.
func FuzzClaimsJSON(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://idp.example/","sub":"alice","aud":["a","b"],"exp":1900000000,"scope":"read write"}`,
		`{}`,
		`{"a":{"b":[1,2.5,-3e10,true,false,null,"x"]}}`,
		`{"\u0000\n\"":"\ud83d\ude00","big":123456789012345678901234567890}`,
		"{\"bad\":\"\xff\xfe\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil || m == nil {
			return
		}
		id := &Identity{Scheme: "s", Type: TypeJWT}
		id.SetClaims(m)
		if got := id.Claims(); !reflect.DeepEqual(got, m) {
			t.Fatalf("Claims() = %#v, want %#v", got, m)
		}
		before := id.AST()
		id.ReleaseValue()
		if after := id.AST(); after.Compare(before) != 0 {
			t.Fatalf("rebuilt value differs\n got %v\nwant %v", after, before)
		}
	})
}

// AST and ReleaseValue may race (requests reading a cached identity while
// the decision cache releases its value): every caller gets an equal value.
func TestIdentityValueConcurrent(t *testing.T) {
	id := &Identity{Scheme: "s", Type: TypeJWT, Subject: "alice", Scopes: []string{"read"}}
	id.SetClaims(map[string]any{"sub": "alice", "scope": "read"})
	want := id.AST()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if got := id.AST(); got.Compare(want) != 0 {
					t.Errorf("AST %v, want %v", got, want)
					return
				}
				id.ReleaseValue()
			}
		}()
	}
	wg.Wait()
}
