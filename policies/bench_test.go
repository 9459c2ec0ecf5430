package policies_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/gatehouse/gatehouse/bundles"
)

// prepare compiles the embedded policy (tests excluded) the way the gateway
// does: once, with the bundle data in an in-memory store.
func prepare(tb testing.TB, data map[string]any) rego.PreparedEvalQuery {
	tb.Helper()
	opts := []func(*rego.Rego){
		rego.Query("data.gatehouse.authz.decision"),
		rego.Store(inmem.NewFromObject(data)),
		rego.SetRegoVersion(ast.RegoV1),
	}
	for _, m := range parseAll(tb, false) {
		opts = append(opts, rego.ParsedModule(m))
	}
	pq, err := rego.New(opts...).PrepareForEval(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return pq
}

// benchData is bundle data of a realistic size: revocation lists are looked
// up by key, never walked, so their size must not matter.
func benchData() map[string]any {
	jti := map[string]any{}
	for i := range 10000 {
		jti[fmt.Sprintf("revoked-%d", i)] = true
	}
	return map[string]any{"gatehouse": map[string]any{
		"revocations": map[string]any{
			"jti":           jti,
			"issued_before": map[string]any{"partner": 1600000000},
		},
		"config": map[string]any{"allow_fallthrough": map[string]any{"legacy": true}},
	}}
}

func jwtIdentity(scopes ...any) map[string]any {
	return map[string]any{
		"scheme": "petsOAuth", "type": "jwt", "subject": "alice",
		"issuer": "https://idp.example/", "source": "corp", "client_id": "app-1",
		"scopes": scopes, "audience": []any{"petstore"}, "token_id": "jti-123",
		"issued_at": 1700000000, "expires_at": 1700003600, "credential_id": "9f86d081",
		"claims": map[string]any{"sub": "alice", "scope": "read:pets write:pets", "azp": "app-1"},
	}
}

func benchInput(security []any, creds map[string]any) ast.Value {
	return benchRequest(security, creds, map[string]any{})
}

func benchRejected(security []any, rejections map[string]any) ast.Value {
	return benchRequest(security, map[string]any{}, rejections)
}

func benchRequest(security []any, creds, rejections map[string]any) ast.Value {
	in := map[string]any{
		"time": 1700000100000000000,
		"request": map[string]any{
			"id": "req-1", "method": "GET", "path": "/petstore/v1/pets/1",
			"host": "api.example", "scheme": "https", "client_ip": "192.0.2.1",
			"headers": map[string]any{"accept": "application/json", "user-agent": "bench"},
		},
		"api": map[string]any{"name": "petstore", "version": "1.0.0", "base_path": "/petstore/v1"},
		"operation": map[string]any{
			"id": "getPet", "method": "GET", "path": "/pets/{id}", "public": false,
			"security": security, "scope_mode": "all",
		},
		"schemes": map[string]any{
			"petsOAuth":  map[string]any{"type": "oauth2"},
			"basicAuth":  map[string]any{"type": "http", "scheme": "basic"},
			"clientCert": map[string]any{"type": "mutualTLS"},
		},
		"credentials": creds,
		"rejections":  rejections,
	}
	v, err := ast.InterfaceToValue(in)
	if err != nil {
		panic(err)
	}
	return v
}

type benchCase struct {
	name  string
	input ast.Value
	allow bool
}

func benchCases() []benchCase {
	oauthOrBasicCert := []any{
		map[string]any{"petsOAuth": []any{"read:pets"}},
		map[string]any{"basicAuth": []any{}, "clientCert": []any{}},
	}
	return []benchCase{
		{"allow/jwt", benchInput(
			[]any{map[string]any{"petsOAuth": []any{"read:pets"}}},
			map[string]any{"petsOAuth": jwtIdentity("read:pets", "write:pets")}), true},
		{"deny/insufficient_scope", benchInput(
			[]any{map[string]any{"petsOAuth": []any{"admin:pets"}}},
			map[string]any{"petsOAuth": jwtIdentity("read:pets")}), false},
		{"deny/credentials_missing", benchInput(
			[]any{map[string]any{"petsOAuth": []any{"read:pets"}}},
			map[string]any{}), false},
		{"deny/credentials_invalid", benchRejected(
			[]any{map[string]any{"petsOAuth": []any{"read:pets"}}},
			map[string]any{"petsOAuth": map[string]any{"reason": "expired", "type": "jwt"}}), false},
		{"allow/and_basic_cert", benchInput(oauthOrBasicCert, map[string]any{
			"basicAuth": map[string]any{"scheme": "basicAuth", "type": "basic", "subject": "bob", "source": "users", "scopes": []any{}},
			"clientCert": map[string]any{
				"scheme": "clientCert", "type": "mtls", "subject": "CN=partner-1", "scopes": []any{},
				"certificate": map[string]any{"subject": "CN=partner-1", "common_name": "partner-1", "serial": "01"},
			},
		}), true},
	}
}

func TestBenchCasesDecide(t *testing.T) {
	pq := prepare(t, benchData())
	for _, c := range benchCases() {
		rs, err := pq.Eval(context.Background(), rego.EvalParsedInput(c.input))
		if err != nil || len(rs) != 1 {
			t.Fatalf("%s: %v %v", c.name, rs, err)
		}
		d := rs[0].Expressions[0].Value.(map[string]any)
		if d["allow"] != c.allow {
			t.Errorf("%s: decision %v", c.name, d)
		}
	}
}

// BenchmarkFloor is OPA's fixed cost on this machine, for ratios taken in the
// same run: a prepared query of a constant decision, same input, same data.
func BenchmarkFloor(b *testing.B) {
	pq, err := rego.New(
		rego.Query("data.gatehouse.authz.decision"),
		rego.Module("floor.rego", `package gatehouse.authz

decision := {"allow": true, "reasons": [], "alternative": 0}`),
		rego.Store(inmem.NewFromObject(benchData())),
	).PrepareForEval(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	input := benchCases()[0].input
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pq.Eval(context.Background(), rego.EvalParsedInput(input)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecision measures the whole base policy through OPA's rego
// package: a prepared query and an ast input, as bundles.Engine.Decide runs
// it with evaluation options (explain's tracer); BenchmarkFloor is that
// path's fixed cost. The gateway itself decides on its direct evaluator and
// the operation's plan (BenchmarkDecisionEngine). "json" is plain Eval,
// which converts the decision to Go values; "ast" also keeps the decision as
// an *ast.Term (no conversion: the caller reads the few members it needs)
// and skips per-eval metrics.
func BenchmarkDecision(b *testing.B) {
	pq := prepare(b, benchData())
	ctx := context.Background()
	modes := []struct {
		name string
		opts []rego.EvalOption
	}{
		{"json", nil},
		{"ast", []rego.EvalOption{
			rego.EvalGenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }),
			rego.EvalMetrics(metrics.NoOp()),
		}},
	}
	for _, m := range modes {
		for _, c := range benchCases() {
			b.Run(m.name+"/"+c.name, func(b *testing.B) {
				opts := append([]rego.EvalOption{rego.EvalParsedInput(c.input)}, m.opts...)
				b.ReportAllocs()
				for b.Loop() {
					rs, err := pq.Eval(ctx, opts...)
					if err != nil || len(rs) != 1 {
						b.Fatal(rs, err)
					}
				}
			})
		}
	}
}

// engineWith loads the embedded policy through bundles.Load, the way the
// gateway does, with data as the one extra bundle.
func engineWith(tb testing.TB, data map[string]any, ops ...bundles.Operation) *bundles.Engine {
	tb.Helper()
	dir := tb.TempDir()
	raw, err := json.Marshal(data)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.json"), raw, 0o600); err != nil {
		tb.Fatal(err)
	}
	e, err := bundles.Load(context.Background(), bundles.Options{Base: true, Bundles: []string{dir}, Operations: ops})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// operationOf is the part of in a gateway fixes per operation.
func operationOf(in ast.Value) bundles.Operation {
	obj := in.(ast.Object)
	return bundles.Operation{
		API:       obj.Get(ast.StringTerm("api")),
		Operation: obj.Get(ast.StringTerm("operation")),
		Schemes:   obj.Get(ast.StringTerm("schemes")),
	}
}

// BenchmarkDecisionEngine is BenchmarkDecision through bundles.Engine, the
// gateway's own evaluation path (no decision cache): each case's operation
// has its plan (bundles/plan.go), as the gateway's operations do.
func BenchmarkDecisionEngine(b *testing.B) {
	cases := benchCases()
	ops := make([]bundles.Operation, len(cases))
	for i, c := range cases {
		ops[i] = operationOf(c.input)
	}
	e := engineWith(b, benchData(), ops...)
	ctx := context.Background()
	for i, c := range cases {
		plan := e.Plans()[i]
		if plan == nil {
			b.Fatalf("%s: no plan", c.name)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d, err := e.DecidePlan(ctx, plan, c.input)
				if err != nil || d.Allow != c.allow {
					b.Fatal(d, err)
				}
			}
		})
	}
}

// BenchmarkDecisionEngineFull is BenchmarkDecisionEngine on the full
// decision query (no plan): what operations without a plan, and inputs
// their plan gives way on, cost.
func BenchmarkDecisionEngineFull(b *testing.B) {
	e := engineWith(b, benchData())
	ctx := context.Background()
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d, err := e.Decide(ctx, c.input)
				if err != nil || d.Allow != c.allow {
					b.Fatal(d, err)
				}
			}
		})
	}
}
