package pipeline

import (
	"strconv"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/bundles"
)

// decisionOf is a decision as the engine returns it: its members in Value,
// Principal the value's principal member.
func decisionOf(principal ast.Value, members ...[2]*ast.Term) *bundles.Decision {
	if principal != nil {
		members = append(members, [2]*ast.Term{ast.StringTerm("principal"), ast.NewTerm(principal)})
	}
	d := &bundles.Decision{Allow: true, Alternative: 0, Value: ast.NewObject(members...)}
	d.Principal, _ = principal.(ast.Object)
	return d
}

func allowMembers(scheme string) [][2]*ast.Term {
	return [][2]*ast.Term{
		{ast.StringTerm("allow"), ast.BooleanTerm(true)},
		{ast.StringTerm("reasons"), ast.ArrayTerm()},
		{ast.StringTerm("alternative"), ast.IntNumberTerm(0)},
		{ast.StringTerm("schemes"), ast.ArrayTerm(ast.StringTerm(scheme))},
	}
}

func identity(sub string) *authn.Identity {
	id := &authn.Identity{Scheme: "jwt", Type: authn.TypeJWT, Subject: sub, Scopes: []string{"read"}}
	id.SetClaims(map[string]any{"sub": sub, "scope": "read"})
	return id
}

// TestCacheSharesDecisions: a decision whose principal is one of the key's
// identities is cached as a template shared by every credential with the
// same answer; the evaluation that hits it gives back the whole decision.
// Other decisions are cached whole. Every Put releases the identities'
// memoized values.
func TestCacheSharesDecisions(t *testing.T) {
	op := &OpInput{}
	tests := []struct {
		name string
		// decide makes the decision for the identity in position 1 of the key.
		decide func(id *authn.Identity) *bundles.Decision
		shared bool
	}{
		{"allow/principal-is-the-identity", func(id *authn.Identity) *bundles.Decision {
			return decisionOf(id.AST(), allowMembers("jwt")...)
		}, true},
		{"allow/principal-equal-to-the-identity", func(id *authn.Identity) *bundles.Decision {
			return decisionOf(identity(id.Subject).AST(), allowMembers("jwt")...)
		}, true},
		{"allow/principal-of-the-policy's-own", func(id *authn.Identity) *bundles.Decision {
			return decisionOf(ast.NewObject([2]*ast.Term{ast.StringTerm("subject"), ast.StringTerm(id.Subject)}), allowMembers("jwt")...)
		}, false},
		{"deny/no-principal", func(*authn.Identity) *bundles.Decision {
			return decisionOf(nil, [2]*ast.Term{ast.StringTerm("allow"), ast.BooleanTerm(false)},
				[2]*ast.Term{ast.StringTerm("reasons"), ast.ArrayTerm(ast.StringTerm("insufficient_scope"))})
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCache()
			var first *bundles.Decision
			for i := range 3 {
				id := identity("user-" + strconv.Itoa(i))
				k := Key{op: op}
				k.ids[1] = id
				d := tc.decide(id)
				value := id.AST()
				c.Put(k, d)
				if id.AST() == value {
					t.Fatal("Put kept the identity's memoized value")
				}
				got, principalOf, ok := c.Get(k)
				if !ok {
					t.Fatal("miss after Put")
				}
				ev := &Evaluation{Decision: got, principalOf: principalOf}
				if whole := ev.WholeDecision(); whole.Value.Compare(d.Value) != 0 {
					t.Fatalf("whole decision\n got %v\nwant %v", whole.Value, d.Value)
				}
				if (d.Principal == nil) != (ev.Principal() == nil) || d.Principal != nil && ev.Principal().Compare(d.Principal) != 0 {
					t.Fatalf("principal %v, want %v", ev.Principal(), d.Principal)
				}
				if !tc.shared {
					if got != d || principalOf != nil {
						t.Fatalf("decision not cached whole: %v (principal of %v)", got.Value, principalOf)
					}
					continue
				}
				if principalOf != id || got.Principal != nil || got.Value.(ast.Object).Get(principalKey) != nil {
					t.Fatalf("decision not shared: %v, principal of %v", got.Value, principalOf)
				}
				if first == nil {
					first = got
				} else if got != first {
					t.Fatal("equal decisions got two templates")
				}
			}
		})
	}
}

// TestCacheTemplateBound: decisions that differ in more than their
// principal each get a template up to maxTemplates; past it they are cached
// whole, and still answer.
func TestCacheTemplateBound(t *testing.T) {
	c := NewCache()
	op := &OpInput{}
	for i := range maxTemplates + 10 {
		id := identity("user-" + strconv.Itoa(i))
		k := Key{op: op}
		k.ids[0] = id
		members := append(allowMembers("jwt"), [2]*ast.Term{ast.StringTerm("headers"),
			ast.ObjectTerm([2]*ast.Term{ast.StringTerm("x-user"), ast.StringTerm(id.Subject)})})
		d := decisionOf(id.AST(), members...)
		c.Put(k, d)
		got, principalOf, ok := c.Get(k)
		if !ok {
			t.Fatalf("%d: miss after Put", i)
		}
		ev := &Evaluation{Decision: got, principalOf: principalOf}
		if ev.WholeDecision().Value.Compare(d.Value) != 0 {
			t.Fatalf("%d: whole decision %v, want %v", i, ev.WholeDecision().Value, d.Value)
		}
		if whole := i >= maxTemplates; whole != (got == d) {
			t.Fatalf("%d: cached whole = %v, want %v", i, got == d, whole)
		}
	}
	if c.templates.n != maxTemplates {
		t.Fatalf("%d templates, bound %d", c.templates.n, maxTemplates)
	}
}
