package gateway

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/openapi"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// The decision the gateway enforces takes fast paths (policies/gatehouse/authz/
// decision.rego) and runs on bundles.Engine's direct evaluator. Both must give
// exactly what the reference computation gives: data.gatehouse.authz.full_decision
// (no fast paths) evaluated by OPA's rego package. This test generates inputs
// for every operation of the quickstart and the test API definitions, under
// the base policy alone and with each example and test bundle, and compares
// the whole decision documents, and so does each operation's plan
// (bundles/plan.go). It is a correctness test: it never times.
func TestPolicyDifferential(t *testing.T) {
	apis := differentialAPIs(t)
	// Only examples/bundles/acme has rules for the API named "shapes".
	var unnamed, shapes []*API
	for _, api := range apis {
		if api.Name == "shapes" {
			shapes = append(shapes, api)
		} else {
			unnamed = append(unnamed, api)
		}
	}
	// Under the race detector every fifth input is enough: the full set
	// takes minutes there.
	every := 1
	if raceEnabled {
		every = 5
	}
	bundleSets := map[string][]string{
		"base":       nil,
		"quickstart": {"../examples/quickstart/bundle"},
		"acme":       {"../examples/bundles/acme"},
		"ok":         {"../testdata/bundles/ok"},
	}
	ctx := context.Background()
	for setName, dirs := range bundleSets {
		t.Run(setName, func(t *testing.T) {
			t.Parallel()
			apis := unnamed
			if setName == "acme" {
				apis = shapes
			}
			// Every operation gets its plan (bundles/plan.go), as the
			// gateway's do; the plan's decision must equal the reference too.
			var ops []bundles.Operation
			opIndex := map[*Operation]int{}
			for _, api := range apis {
				for _, op := range api.Operations {
					opIndex[op] = len(ops)
					ops = append(ops, bundles.Operation{API: pipeline.APIValue(api), Operation: pipeline.OperationValue(op), Schemes: pipeline.SchemesValue(op)})
				}
			}
			eng, err := bundles.Load(ctx, bundles.Options{Base: true, Bundles: dirs, Operations: ops})
			if err != nil {
				t.Fatal(err)
			}
			planned := 0
			for _, p := range eng.Plans() {
				if p != nil {
					planned++
				}
			}
			t.Logf("%d of %d operations planned", planned, len(ops))
			if planned != len(ops) {
				t.Fatalf("%d of %d operations planned: the comparison would miss the rest", planned, len(ops))
			}
			ref, err := rego.New(
				rego.Query("data.gatehouse.authz.full_decision"),
				rego.Compiler(eng.Compiler()),
				rego.Store(inmem.NewFromObject(eng.Data())),
			).PrepareForEval(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, api := range apis {
				for _, op := range api.Operations {
					plan := eng.Plans()[opIndex[op]]
					for i, in := range differentialInputs(op) {
						if i%every != 0 {
							continue
						}
						n++
						got, err := eng.Decide(ctx, in.value)
						if err != nil {
							t.Fatalf("%s %s %s: %v", api.Name, op.ID, in.name, err)
						}
						// Any evaluation option sends Decide through rego; a
						// sample of the inputs is enough for that comparison.
						viaRego := got
						if n%7 == 0 {
							viaRego, err = eng.Decide(ctx, in.value, rego.EvalInstrument(false))
							if err != nil {
								t.Fatalf("%s %s %s (rego): %v", api.Name, op.ID, in.name, err)
							}
						}
						planned, err := eng.DecidePlan(ctx, plan, in.value)
						if err != nil {
							t.Fatalf("%s %s %s (plan): %v", api.Name, op.ID, in.name, err)
						}
						rs, err := ref.Eval(ctx, rego.EvalParsedInput(in.value))
						if err != nil || len(rs) != 1 {
							t.Fatalf("%s %s %s (reference): %v %v", api.Name, op.ID, in.name, rs, err)
						}
						want, err := ast.InterfaceToValue(rs[0].Expressions[0].Value)
						if err != nil {
							t.Fatal(err)
						}
						if got.Value.Compare(want) != 0 || viaRego.Value.Compare(want) != 0 || planned.Value.Compare(want) != 0 {
							t.Errorf("%s %s %s:\n decision %v\n via rego %v\n plan     %v\n full     %v", api.Name, op.ID, in.name, got.Value, viaRego.Value, planned.Value, want)
						}
					}
				}
			}
			t.Logf("%d inputs", n)
			if n*every < 1000 {
				t.Fatalf("only %d inputs generated", n)
			}
		})
	}
}

// differentialAPIs loads every API definition the quickstart and the tests
// use that loads on its own, in both scope modes.
func differentialAPIs(t *testing.T) []*API {
	t.Helper()
	files, _ := filepath.Glob("../testdata/openapi/*.yaml")
	files = append(files, "../examples/quickstart/petstore.yaml", "../examples/quickstart/partners.yaml")
	var apis []*API
	for _, f := range files {
		quickstart := strings.Contains(f, "quickstart")
		for _, mode := range []string{"all", "any"} {
			// Scope mode "any" for the quickstart only: it changes the
			// scope checks, which the quickstart's operations exercise.
			if mode == "any" && !quickstart {
				continue
			}
			// "shapes" is the API examples/bundles/acme has rules for.
			for _, name := range []string{"", "shapes"} {
				if name != "" && !quickstart {
					continue
				}
				api, err := openapi.LoadAPI(config.APIConfig{OpenAPI: f, Name: name, ScopeMode: mode, Upstream: "http://127.0.0.1:1"}, f)
				if err != nil {
					continue // a definition the tests expect to be refused
				}
				api.Operations = append(api.Operations, combinedOperations(api)...)
				apis = append(apis, api)
			}
		}
	}
	if len(apis) < 8 {
		t.Fatalf("only %d API definitions loaded", len(apis))
	}
	return apis
}

// combinedOperations adds operations whose security combines the API's
// schemes in the shapes users write: AND, OR, optional ({}), and an OR of an
// AND with a single scheme.
func combinedOperations(api *API) []*Operation {
	names := make([]string, 0, len(api.Schemes))
	for n := range api.Schemes {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 2 {
		return nil
	}
	a := openapi.SchemeScopes{Scheme: names[0], Scopes: []string{"read:x"}}
	b := openapi.SchemeScopes{Scheme: names[1]}
	shapes := map[string][]openapi.Requirement{
		"and":        {{a, b}},
		"or":         {{a}, {b}},
		"optional":   {{a}, {}},
		"anon_first": {{}, {b}},
		"or_and":     {{b}, {a, b}},
		"two_scopes": {{{Scheme: names[0], Scopes: []string{"read:x", "write:x"}}}},
		// One scheme in two alternatives with other scopes, and an
		// alternative inside another: present alternatives that are not
		// the one the credentials were matched against.
		"same_scheme_or": {{a}, {{Scheme: names[0], Scopes: []string{"write:x"}}}},
		"sub_alt":        {{a}, {{Scheme: names[0], Scopes: []string{"write:x"}}, b}},
		"empty_alt_3":    {{a}, {b}, {}},
	}
	if len(names) > 2 {
		c := openapi.SchemeScopes{Scheme: names[2]}
		shapes["or_and3"] = []openapi.Requirement{{a}, {b, c}}
	}
	keys := make([]string, 0, len(shapes))
	for k := range shapes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ops []*Operation
	for _, k := range keys {
		op := &Operation{API: api, ID: "combined_" + k, Method: "POST", Path: "/combined", Security: shapes[k]}
		set := map[string]bool{}
		for _, alt := range op.Security {
			for _, s := range alt {
				set[s.Scheme] = true
			}
		}
		for n := range set {
			op.Schemes = append(op.Schemes, n)
		}
		sort.Strings(op.Schemes)
		ops = append(ops, op)
	}
	return ops
}

type differentialInput struct {
	name  string
	value ast.Value
}

// Per scheme of the operation: absent, a credential with every scope the
// operation names, one with none, one with the last of them only, one revoked by jti, one carrying a
// certificate binding or subscription validation, or a rejection.
var schemeStates = []string{"absent", "all_scopes", "no_scopes", "one_scope", "revoked_jti", "bound", "subscribed", "rejected", "rejected_revoked"}

// fewStates are the states combined when an operation has three schemes.
var fewStates = []string{"absent", "all_scopes", "no_scopes", "rejected"}

// differentialInputs builds the policy input of op for every combination of
// scheme states (the first three schemes; further ones stay absent).
func differentialInputs(op *Operation) []differentialInput {
	schemes := op.Schemes
	if len(schemes) > 3 {
		schemes = schemes[:3]
	}
	states := schemeStates
	if len(schemes) > 2 {
		states = fewStates
	}
	var scopes []string
	seen := map[string]bool{}
	for _, alt := range op.Security {
		for _, s := range alt {
			for _, sc := range s.Scopes {
				if !seen[sc] {
					seen[sc] = true
					scopes = append(scopes, sc)
				}
			}
		}
	}
	sort.Strings(scopes)
	opValue, apiVal, schemesVal := pipeline.OperationValue(op), pipeline.APIValue(op.API), pipeline.SchemesValue(op)
	total := 1
	for range schemes {
		total *= len(states)
	}
	out := make([]differentialInput, 0, total)
	for combo := range total {
		creds, rejections := ast.NewObject(), ast.NewObject()
		name := ""
		c := combo
		for _, scheme := range schemes {
			state := states[c%len(states)]
			c /= len(states)
			name += scheme + "=" + state + " "
			def := op.API.Schemes[scheme]
			switch state {
			case "absent":
			case "rejected", "rejected_revoked":
				reason := "expired"
				if state == "rejected_revoked" {
					reason = "revoked"
				}
				rejections.Insert(ast.StringTerm(scheme), ast.ObjectTerm(
					[2]*ast.Term{ast.StringTerm("reason"), ast.StringTerm(reason)},
					[2]*ast.Term{ast.StringTerm("type"), ast.StringTerm(identityType(def))},
				))
			default:
				creds.Insert(ast.StringTerm(scheme), ast.NewTerm(differentialIdentity(scheme, def, op.API, state, scopes)))
			}
		}
		in := ast.NewObject(
			[2]*ast.Term{ast.StringTerm("time"), ast.IntNumberTerm(1700000100000000000)},
			[2]*ast.Term{ast.StringTerm("request"), ast.ObjectTerm(
				[2]*ast.Term{ast.StringTerm("id"), ast.StringTerm("req-1")},
				[2]*ast.Term{ast.StringTerm("method"), ast.StringTerm(op.Method)},
				[2]*ast.Term{ast.StringTerm("path"), ast.StringTerm(op.API.BasePath + op.Path)},
				[2]*ast.Term{ast.StringTerm("host"), ast.StringTerm("api.example")},
				[2]*ast.Term{ast.StringTerm("scheme"), ast.StringTerm("https")},
				[2]*ast.Term{ast.StringTerm("client_ip"), ast.StringTerm("192.0.2.7")},
				[2]*ast.Term{ast.StringTerm("headers"), ast.ObjectTerm()},
			)},
			[2]*ast.Term{ast.StringTerm("api"), apiVal},
			[2]*ast.Term{ast.StringTerm("operation"), opValue},
			[2]*ast.Term{ast.StringTerm("schemes"), schemesVal},
			[2]*ast.Term{ast.StringTerm("credentials"), ast.NewTerm(creds)},
			[2]*ast.Term{ast.StringTerm("rejections"), ast.NewTerm(rejections)},
		)
		out = append(out, differentialInput{name: name, value: in})
	}
	return out
}

func identityType(def *SchemeDef) string {
	switch {
	case def == nil:
		return "jwt"
	case def.Type == "apiKey":
		return "api_key"
	case def.Type == "mutualTLS":
		return "mtls"
	case def.Type == "http" && def.HTTPScheme == "basic":
		return "basic"
	}
	return "jwt"
}

// differentialIdentity is an identity document of the scheme's type in the
// given state, shaped as authn builds them (schemas/identity.schema.json).
func differentialIdentity(scheme string, def *SchemeDef, api *API, state string, scopes []string) ast.Object {
	typ := identityType(def)
	var scopeTerms []*ast.Term
	switch {
	case state == "one_scope" && len(scopes) > 0:
		// The last scope the operation names only.
		scopeTerms = append(scopeTerms, ast.StringTerm(scopes[len(scopes)-1]))
	case state != "no_scopes":
		for _, s := range scopes {
			scopeTerms = append(scopeTerms, ast.StringTerm(s))
		}
	}
	id := map[string]any{
		"scheme": scheme, "type": typ, "subject": "alice", "source": "demo",
		"client_id": "app-1", "application": "app-1", "token_id": "jti-" + scheme,
		"issued_at": 1700000000, "credential_id": "9f86d081",
		"claims": map[string]any{"sub": "alice", "tenant": "acme"},
	}
	switch state {
	case "revoked_jti":
		id["token_id"] = "revoked-demo-token"
	case "bound":
		id["confirmation"] = "bm90LXByZXNlbnRlZA"
	case "subscribed":
		id["subscription_validation"] = true
	}
	switch typ {
	case "api_key":
		id["apis"] = []any{map[string]any{"name": api.Name, "version": api.Version}}
	case "mtls":
		id["subject"] = "CN=partner-1"
		id["certificate"] = map[string]any{"subject": "CN=partner-1", "common_name": "partner-1", "serial": "01"}
	}
	v, err := ast.InterfaceToValue(id)
	if err != nil {
		panic(fmt.Sprint(err))
	}
	obj := v.(ast.Object)
	obj.Insert(ast.StringTerm("scopes"), ast.ArrayTerm(scopeTerms...))
	return obj
}
