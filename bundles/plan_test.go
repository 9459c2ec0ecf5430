package bundles_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse/gatehouse/bundles"
)

// planOp is the operation of planInput: one JWT scheme with a scope.
func planOp(public bool) bundles.Operation {
	security := `[{"jwt": ["read"]}]`
	if public {
		security = `[]`
	}
	return bundles.Operation{
		API:       ast.MustParseTerm(`{"name": "shapes", "version": "1", "base_path": "/shapes"}`),
		Operation: ast.MustParseTerm(`{"id": "op", "method": "GET", "path": "/x", "public": ` + map[bool]string{true: "true", false: "false"}[public] + `, "security": ` + security + `, "scope_mode": "all"}`),
		Schemes:   ast.MustParseTerm(`{"jwt": {"type": "http", "scheme": "bearer"}}`),
	}
}

// jwtAt is a credential of source issued at issuedAt (a Rego term).
func jwtAt(source, issuedAt string) string {
	return `{"jwt": {"type": "jwt", "subject": "alice", "scopes": ["read"], "token_id": "t-1", "source": "` + source + `", "issued_at": ` + issuedAt + `}}`
}

// subscriber is a credential of application app whose issuer validates
// subscriptions.
func subscriber(app string) string {
	return `{"jwt": {"type": "jwt", "subject": "alice", "scopes": ["read"], "source": "corp", "application": "` + app + `", "subscription_validation": true}}`
}

func planInput(op bundles.Operation, credentials string) ast.Value {
	return ast.MustParseTerm(`{"request": {"method": "GET", "path": "/shapes/x", "headers": {"x-maintenance": "on"}, "client_ip": "192.0.2.7"},
		"api": ` + op.API.String() + `, "operation": ` + op.Operation.String() + `, "schemes": ` + op.Schemes.String() + `,
		"credentials": ` + credentials + `, "rejections": {}}`).Value
}

// Which operations get a plan, and that a plan decides as the full query
// does, users' rules included: a custom deny rule still denies through the
// plan, upstream headers leave no plan (the full decision carries them), and
// so does per-API configuration the plans take as absent.
func TestPlans(t *testing.T) {
	jwt := `{"jwt": {"type": "jwt", "subject": "alice", "scopes": ["read"], "token_id": "t-1"}}`
	cases := []struct {
		name    string
		files   map[string]string
		public  bool
		creds   string
		planned bool
		allow   bool
		reasons string
		member  string // a member the decision must have
	}{
		{name: "base allow", creds: jwt, planned: true, allow: true},
		{name: "base missing", creds: `{}`, planned: true, reasons: `["credentials_missing"]`},
		{name: "base public", public: true, creds: `{}`, planned: true, allow: true},
		{name: "revoked jti", files: map[string]string{"data.json": `{"gatehouse": {"revocations": {"jti": {"t-1": false}}}}`},
			creds: jwt, planned: true, reasons: `["revoked"]`},
		{name: "issued before the cutoff of its source", files: map[string]string{"data.json": `{"gatehouse": {"revocations": {"issued_before": {"corp": 1800000000, "other": 1}}}}`},
			creds: jwtAt("corp", "1700000000"), planned: true, reasons: `["revoked"]`},
		{name: "issued after the cutoff of its source", files: map[string]string{"data.json": `{"gatehouse": {"revocations": {"issued_before": {"corp": 1600000000}}}}`},
			creds: jwtAt("corp", "1700000000"), planned: true, allow: true},
		{name: "no issued_at, source with a cutoff", files: map[string]string{"data.json": `{"gatehouse": {"revocations": {"issued_before": {"corp": 1600000000}}}}`},
			creds: jwtAt("corp", `"soon"`), planned: true, reasons: `["revoked"]`},
		{name: "source without a cutoff", files: map[string]string{"data.json": `{"gatehouse": {"revocations": {"issued_before": {"corp": 1800000000}}}}`},
			creds: jwtAt("partner", "1"), planned: true, allow: true},
		{name: "subscribed", files: map[string]string{"data.json": `{"gatehouse": {"subscriptions": {"corp": {"app": [{"api": "shapes"}]}}}}`},
			creds: subscriber("app"), planned: true, allow: true},
		{name: "not subscribed", files: map[string]string{"data.json": `{"gatehouse": {"subscriptions": {"corp": {"app": [{"api": "shapes"}]}}}}`},
			creds: subscriber("other-app"), planned: true, reasons: `["subscription_required"]`},
		{name: "subscription validation, no subscription data", creds: subscriber("app"), planned: true, reasons: `["subscription_required"]`},
		{name: "custom deny", files: map[string]string{"custom.rego": "package gatehouse.custom\n\ndeny contains {\"reason\": \"maintenance\"} if input.request.headers[\"x-maintenance\"] == \"on\"\n"},
			creds: jwt, planned: true, reasons: `["maintenance"]`},
		{name: "custom deny on public", public: true, files: map[string]string{"custom.rego": "package gatehouse.custom\n\ndeny contains {\"reason\": \"maintenance\"} if input.request.headers[\"x-maintenance\"] == \"on\"\n"},
			creds: `{}`, planned: true, reasons: `["maintenance"]`},
		{name: "custom deny data", files: map[string]string{"data.json": `{"gatehouse": {"custom": {"deny": [{"reason": "closed"}]}}}`},
			creds: jwt, planned: true, reasons: `["closed"]`},
		{name: "custom headers", files: map[string]string{"custom.rego": "package gatehouse.custom\n\nheaders := {\"x-a\": \"b\"}\n"},
			creds: jwt, planned: true, allow: true, member: "headers"},
		{name: "custom headers, denied", files: map[string]string{"custom.rego": "package gatehouse.custom\n\nheaders := {\"x-a\": \"b\"}\n"},
			creds: `{}`, planned: true, reasons: `["credentials_missing"]`},
		{name: "response headers data", files: map[string]string{"data.json": `{"gatehouse": {"custom": {"response_headers": {"x-a": "b"}}}}`},
			creds: jwt, planned: true, allow: true, member: "response_headers"},
		{name: "response headers data, denied", files: map[string]string{"data.json": `{"gatehouse": {"custom": {"response_headers": {"x-a": "b"}}}}`},
			creds: `{}`, planned: true, reasons: `["credentials_missing"]`, member: "response_headers"},
		{name: "headers to remove on public", public: true, files: map[string]string{"data.json": `{"gatehouse": {"custom": {"request_headers_to_remove": ["X-Debug"]}}}`},
			creds: `{}`, planned: true, allow: true, member: "request_headers_to_remove"},
		{name: "same principal for the API", files: map[string]string{"data.json": `{"gatehouse": {"config": {"same_principal": {"shapes": true}}}}`},
			creds: jwt, allow: true},
		{name: "binding required for the API", files: map[string]string{"data.json": `{"gatehouse": {"config": {"require_certificate_binding": {"shapes": true}}}}`},
			creds: jwt, reasons: `["binding_required"]`},
		{name: "binding required elsewhere", files: map[string]string{"data.json": `{"gatehouse": {"config": {"require_certificate_binding": {"other": true}}}}`},
			creds: jwt, planned: true, allow: true},
	}
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := bundles.Options{Base: true, Operations: []bundles.Operation{planOp(c.public)}}
			if c.files != nil {
				opts.Bundles = []string{writeBundle(t, c.files)}
			}
			e, err := bundles.Load(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			plan := e.Plans()[0]
			if (plan != nil) != c.planned {
				t.Fatalf("planned %v, want %v", plan != nil, c.planned)
			}
			in := planInput(planOp(c.public), c.creds)
			got, err := e.DecidePlan(ctx, plan, in)
			if err != nil {
				t.Fatal(err)
			}
			full, err := e.Decide(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Value.Compare(full.Value) != 0 {
				t.Errorf("plan %v\nfull %v", got.Value, full.Value)
			}
			reasons := "[]"
			if c.reasons != "" {
				reasons = c.reasons
			}
			if c.member != "" && got.Value.(ast.Object).Get(ast.StringTerm(c.member)) == nil {
				t.Errorf("decision %v has no %s", got.Value, c.member)
			}
			if got.Allow != c.allow || ast.MustParseTerm(reasons).Value.Compare(got.Value.(ast.Object).Get(ast.StringTerm("reasons")).Value) != 0 {
				t.Errorf("decision %v, want allow %v reasons %s", got.Value, c.allow, reasons)
			}
		})
	}
}

// BenchmarkPlans is an allowed JWT on the full query and on the operation's
// plan, under the base policy alone and with users' bundles: acme's deny
// rules and upstream headers (examples/bundles/acme), and one deny rule
// (testdata/bundles/ok) that does not fire.
func BenchmarkPlans(b *testing.B) {
	op := planOp(false)
	creds := `{"jwt": {"type": "jwt", "subject": "alice", "client_id": "c", "scopes": ["read"], "token_id": "t-1", "claims": {"tenant": "acme"}}}`
	in := ast.MustParseTerm(strings.Replace(planInput(op, creds).String(), `"x-maintenance": "on"`, `"x-other": "on"`, 1)).Value
	sets := []struct {
		name string
		dirs []string
	}{
		{"base", nil},
		{"acme", []string{"../examples/bundles/acme"}},
		{"deny_rule", []string{"../testdata/bundles/ok"}},
	}
	for _, set := range sets {
		e, err := bundles.Load(context.Background(), bundles.Options{Base: true, Bundles: set.dirs, Operations: []bundles.Operation{op}})
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range []struct {
			name string
			plan *bundles.Plan
		}{{"full", nil}, {"plan", e.Plans()[0]}} {
			b.Run(set.name+"/"+p.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if d, err := e.DecidePlan(context.Background(), p.plan, in); err != nil || !d.Allow {
						b.Fatal(d, err)
					}
				}
			})
		}
	}
}

// BenchmarkLoadPlans is building an engine with n operations of distinct
// shapes (one plan each): what plans add to a generation build.
func BenchmarkLoadPlans(b *testing.B) {
	var ops []bundles.Operation
	for i := range 100 {
		op := planOp(false)
		op.Operation = ast.MustParseTerm(fmt.Sprintf(`{"id": "op", "public": false, "security": [{"jwt": ["s%d"]}, {"jwt": ["a"], "key": []}], "scope_mode": "all"}`, i))
		ops = append(ops, op)
	}
	for _, n := range []int{0, 10, 100} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bundles.Load(context.Background(), bundles.Options{Base: true, Operations: ops[:n]}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// An operation the gateway did not shape (no public, no security, a scope
// that is not a string) gets no plan, and the engine still builds.
func TestPlanOfMalformedOperation(t *testing.T) {
	cases := []struct{ name, op string }{
		{"no public", `{"security": []}`},
		{"no security", `{"public": false}`},
		{"scope not a string", `{"public": false, "security": [{"jwt": [1]}]}`},
		{"alternative not an object", `{"public": false, "security": ["jwt"]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			op := planOp(false)
			op.Operation = ast.MustParseTerm(c.op)
			e, err := bundles.Load(context.Background(), bundles.Options{Base: true, Operations: []bundles.Operation{op}})
			if err != nil {
				t.Fatal(err)
			}
			if e.Plans()[0] != nil {
				t.Error("planned")
			}
		})
	}
}
