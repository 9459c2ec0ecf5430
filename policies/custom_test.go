package policies_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Users extend the base policy with their own Rego in package gatehouse.custom.
// Their rules are type-checked together with the base policy, so the base
// policy must compile with every well-formed shape of them, and a rule may
// read data.gatehouse.authz.principal without making a recursion.
func TestCustomBundles(t *testing.T) {
	allowedInput := benchInput(
		[]any{map[string]any{"petsOAuth": []any{"read:pets"}}},
		map[string]any{"petsOAuth": jwtIdentity("read:pets")})
	cases := []struct {
		name   string
		module string
		want   map[string]any // members of the decision that must have these values
		// refused: the bundle does not compile with the base policy, so the
		// gateway refuses it and keeps the previous one (closed as well).
		refused bool
	}{
		{
			name: "ok/deny_reason_only",
			module: `package gatehouse.custom
deny contains {"reason": "blocked_client"} if input.request.headers["user-agent"] == "bench"`,
			want: map[string]any{"allow": false, "reasons": []any{"blocked_client"}},
		},
		{
			name: "ok/deny_with_status_and_message",
			module: `package gatehouse.custom
deny contains {"reason": "maintenance", "status": 503, "message": "back soon"} if true`,
			want: map[string]any{"allow": false, "reasons": []any{"maintenance"}, "status": 503, "messages": []any{"back soon"}},
		},
		{
			name: "ok/deny_reads_principal",
			module: `package gatehouse.custom
import data.gatehouse.authz
deny contains {"reason": "subject_blocked"} if authz.principal.subject == "alice"`,
			want: map[string]any{"allow": false, "reasons": []any{"subject_blocked"}, "alternative": 0},
		},
		{
			name: "ok/deny_not_matching",
			module: `package gatehouse.custom
import data.gatehouse.authz
deny contains {"reason": "subject_blocked"} if authz.principal.subject == "mallory"`,
			want: map[string]any{"allow": true},
		},
		{
			name: "ok/headers_from_principal",
			module: `package gatehouse.custom
import data.gatehouse.authz
headers := {"x-client": authz.principal.client_id}`,
			want: map[string]any{"allow": true, "headers": map[string]any{"x-client": "app-1"}},
		},
		{
			name: "fail/boolean_deny_is_refused",
			module: `package gatehouse.custom
deny if true`,
			refused: true,
		},
		{
			name: "ok/string_deny_fails_closed",
			module: `package gatehouse.custom
deny contains "blocked" if true`,
			want: map[string]any{"allow": false, "reasons": []any{"custom_deny"}},
		},
	}
	base := parseAll(t, false)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			user, err := ast.ParseModuleWithOpts("custom.rego", c.module, ast.ParserOptions{RegoVersion: ast.RegoV1})
			if err != nil {
				t.Fatal(err)
			}
			opts := []func(*rego.Rego){rego.Query("data.gatehouse.authz.decision"), rego.ParsedModule(user)}
			for _, m := range base {
				opts = append(opts, rego.ParsedModule(m))
			}
			pq, err := rego.New(opts...).PrepareForEval(context.Background())
			if c.refused {
				if err == nil || !strings.Contains(err.Error(), "rego_type_error") {
					t.Fatalf("got %v, want a type error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("does not compile with the base policy: %v", err)
			}
			rs, err := pq.Eval(context.Background(), rego.EvalParsedInput(allowedInput))
			if err != nil || len(rs) != 1 {
				t.Fatalf("%v %v", rs, err)
			}
			d := rs[0].Expressions[0].Value.(map[string]any)
			for k, v := range c.want {
				got := d[k]
				if n, ok := got.(interface{ String() string }); ok {
					got = n.String()
					v = toString(v)
				}
				if !reflect.DeepEqual(got, v) {
					t.Errorf("%s = %v, want %v (decision %v)", k, d[k], c.want[k], d)
				}
			}
		})
	}
}

func toString(v any) any {
	if i, ok := v.(int); ok {
		return ast.IntNumberTerm(i).String()
	}
	return v
}
