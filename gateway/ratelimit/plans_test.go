package ratelimit

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Plans come from data.gatehouse.subscriptions[source][application], and
// buckets count an application (or client) per source: the pets-client of
// one issuer neither gets another issuer's pets-client's plan nor spends
// its requests.
func TestPlanTableKeyedBySource(t *testing.T) {
	t.Parallel()
	table := buildPlanTable(map[string]any{"gatehouse": map[string]any{
		"plans": map[string]any{
			"gold":   map[string]any{"requests_per_second": 100.0, "burst": 200.0},
			"bronze": map[string]any{"requests_per_second": 1.0, "burst": 2.0},
		},
		"config": map[string]any{"default_plan": "bronze"},
		"subscriptions": map[string]any{
			"corp": map[string]any{"pets-client": []any{map[string]any{"api": "pets", "plan": "gold"}}},
			// The flat shape of earlier releases: never a plan.
			"pets-client": []any{map[string]any{"api": "pets", "plan": "gold"}},
		},
	}})
	principal := func(kv ...string) ast.Object {
		o := ast.NewObject()
		for i := 0; i+1 < len(kv); i += 2 {
			o.Insert(ast.StringTerm(kv[i]), ast.StringTerm(kv[i+1]))
		}
		return o
	}
	cases := []struct {
		name      string
		principal ast.Object
		wantKey   string
		wantBurst int
	}{
		{"ok/corp-subscribed-gold", principal("source", "corp", "application", "pets-client"), "plan:gold:pets/1:app:corp/pets-client", 200},
		{"ok/partner-same-id-default-plan", principal("source", "partner", "application", "pets-client"), "plan:bronze:pets/1:app:partner/pets-client", 2},
		{"ok/no-source-default-plan", principal("application", "pets-client"), "plan:bronze:pets/1:app:/pets-client", 2},
		{"ok/client-per-source", principal("source", "partner", "client_id", "pets-client"), "plan:bronze:pets/1:client:partner/pets-client", 2},
		{"ok/subject-per-source", principal("source", "corp", "subject", "alice"), "plan:bronze:pets/1:sub:corp/alice", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key, spec, ok := table.limitFor("pets", "1", tc.principal)
			if !ok || key != tc.wantKey || spec.burst != tc.wantBurst {
				t.Fatalf("limitFor = %q %+v %v, want %q burst %d", key, spec, ok, tc.wantKey, tc.wantBurst)
			}
		})
	}
}
