package policybody_test

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse/gatehouse/gateway/policybody"
)

// FuzzParse: any bytes, as JSON or as a form, either parse into a value
// that holds no credential-like member name or fail with ErrMalformed;
// never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"amount": 1000.5, "items": [1, {"a": null}]}`, `{"a": 1, "a": 2}`, `[[[[]]]]`, `"x"`, `1e999`,
		`amount=5&tag=a&tag=b`, `a=1;b=2`, `password=x&user=y`, "{\"a\":\"\xff\"}", `{"token": {"x": 1}}`,
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, raw []byte, asJSON bool) {
		kind := policybody.KindForm
		if asJSON {
			kind = policybody.KindJSON
		}
		v, err := policybody.Parse(kind, raw)
		if err != nil {
			return
		}
		if v == nil {
			if len(raw) != 0 {
				t.Fatalf("no value for %q", raw)
			}
			return
		}
		ast.WalkTerms(v, func(term *ast.Term) bool {
			if obj, ok := term.Value.(ast.Object); ok {
				for _, k := range obj.Keys() {
					if s, ok := k.Value.(ast.String); ok && policybody.Credential(string(s)) {
						t.Fatalf("credential-like member %q kept in %v", s, v)
					}
				}
			}
			return false
		})
		if _, err := ast.JSON(v); err != nil {
			t.Fatalf("value %v does not convert to JSON: %v", v, err)
		}
	})
}
