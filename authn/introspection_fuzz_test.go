package authn

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzIntrospection feeds arbitrary bodies to the introspection answer
// parser and the checks of an active answer. Invariants: no panic; an
// answer is active only when its "active" member is the JSON boolean true;
// an accepted answer is never past its exp and carries only string scopes.
func FuzzIntrospection(f *testing.F) {
	for _, s := range []string{
		`{"active":true,"scope":"read write","client_id":"c","sub":"s","exp":1900000000,"aud":["a","b"]}`,
		`{"active":false}`,
		`{"active":"true"}`,
		`{"active":1}`,
		`{"active":null}`,
		`{}`,
		`[]`,
		`null`,
		`{"active":true}{"active":false}`,
		`{"active":false,"active":true}`,
		`{"active":true,"exp":1.5e300}`,
		`{"active":true,"exp":-1}`,
		`{"active":true,"exp":"1900000000"}`,
		`{"active":true,"nbf":99999999999999999999}`,
		`{"active":true,"iss":7}`,
		`{"active":true,"aud":[1,2]}`,
		`{"active":true,"scp":["a",["b"],{"c":1}],"scope":["x y"]}`,
		`{"active":true,"cnf":{"x5t#S256":"abc"},"app":{"id":12}}`,
		`{"active":true,"username":"u"}`,
		"{\"active\":true}\x00",
		`{"active":true,"deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Unix(1_800_000_000, 0)
	check := &introspectionCheck{name: "fuzz", claims: IntrospectionClaims{Application: "app"}, leeway: DefaultLeeway}
	strict := &introspectionCheck{name: "fuzz", issuer: "https://km/", audiences: []string{"a"}, leeway: DefaultLeeway}
	f.Fuzz(func(t *testing.T, body []byte) {
		claims, active, err := ParseIntrospection(body)
		if err != nil {
			if claims != nil || active {
				t.Fatal("error with a result")
			}
			return
		}
		if active != (claims["active"] == true) {
			t.Fatalf("active = %v for %q", active, body)
		}
		if !active {
			return
		}
		var raw map[string]json.RawMessage
		if json.Unmarshal(body, &raw) != nil || string(raw["active"]) != "true" {
			t.Fatalf("active without a JSON true: %q", body)
		}
		for _, c := range []*introspectionCheck{check, strict} {
			info, rej := c.identity(claims, "credid", now)
			if (info == nil) == (rej == nil) {
				t.Fatal("exactly one of info and rejection")
			}
			if info == nil {
				continue
			}
			if !info.ExpiresAt.IsZero() && !now.Before(info.ExpiresAt) {
				t.Fatalf("accepted past exp: %q", body)
			}
			if c == strict && info.Issuer != "https://km/" {
				t.Fatalf("accepted another iss: %q", body)
			}
			_ = info.WithScheme("s").AST()
		}
	})
}
