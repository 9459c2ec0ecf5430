package bundles_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse/gatehouse/bundles"
)

// The decision is read straight from the ast object the policy returns.
func TestDecisionFromPolicyValue(t *testing.T) {
	cases := []struct {
		name     string
		decision string // Rego term the policy returns
		wantErr  bool
		allow    bool
		reasons  []string
		alt      int
		status   int
		headers  map[string]string
	}{
		{name: "ok/allow", decision: `{"allow": true, "reasons": [], "alternative": 0, "schemes": ["jwt"], "principal": {"subject": "alice"}, "headers": {"x-tenant": "acme", "x-num": 1}}`,
			allow: true, alt: 0, headers: map[string]string{"x-tenant": "acme"}},
		{name: "ok/deny_sorted", decision: `{"allow": false, "reasons": ["b", "a"], "alternative": -1, "status": 429}`,
			reasons: []string{"a", "b"}, alt: -1, status: 429},
		{name: "ok/allow_with_reasons_fails_closed", decision: `{"allow": true, "reasons": ["x"], "alternative": 0}`,
			reasons: []string{"x"}, alt: 0},
		{name: "ok/missing_alternative", decision: `{"allow": false, "reasons": ["x"]}`, reasons: []string{"x"}, alt: -1},
		{name: "fail/not_object", decision: `"allow"`, wantErr: true},
		{name: "fail/false", decision: `false`, wantErr: true},
		{name: "fail/array", decision: `[{"allow": true}]`, wantErr: true},
		{name: "fail/allow_missing", decision: `{"reasons": []}`, wantErr: true},
		{name: "fail/allow_not_boolean", decision: `{"allow": "yes", "reasons": []}`, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeBundle(t, map[string]string{
				"policy.rego": "package gatehouse.authz\n\ndecision := " + c.decision + "\n",
			})
			e, err := bundles.Load(context.Background(), bundles.Options{Bundles: []string{dir}})
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Decide(context.Background(), ast.NewObject())
			if c.wantErr {
				if !errors.Is(err, bundles.ErrEval) {
					t.Fatalf("err %v, want ErrEval", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != c.allow || d.Alternative != c.alt || d.Status != c.status || len(d.Reasons) != len(c.reasons) {
				t.Fatalf("decision %+v", d)
			}
			for i := range c.reasons {
				if d.Reasons[i] != c.reasons[i] {
					t.Fatalf("reasons %v, want %v", d.Reasons, c.reasons)
				}
			}
			if len(d.Headers) != len(c.headers) || d.Headers["x-tenant"] != c.headers["x-tenant"] {
				t.Fatalf("headers %v, want %v", d.Headers, c.headers)
			}
			if _, err := d.JSON(); err != nil {
				t.Fatalf("JSON: %v", err)
			}
		})
	}
}

func TestUndefinedDecision(t *testing.T) {
	dir := writeBundle(t, map[string]string{
		"policy.rego": "package gatehouse.authz\n\ndecision := {\"allow\": true} if input.never\n",
	})
	e, err := bundles.Load(context.Background(), bundles.Options{Bundles: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Decide(context.Background(), ast.NewObject()); !errors.Is(err, bundles.ErrUndefined) {
		t.Fatalf("err %v, want ErrUndefined", err)
	}
}

// BenchmarkDecide is one decision of the base policy through the Engine, the
// way the gateway calls it (an allowed JWT request).
func BenchmarkDecide(b *testing.B) {
	e, err := bundles.Load(context.Background(), bundles.Options{Base: true})
	if err != nil {
		b.Fatal(err)
	}
	in, err := ast.InterfaceToValue(map[string]any{
		"request":   map[string]any{"method": "GET", "path": "/pets/1", "headers": map[string]any{"accept": "*/*"}, "client_ip": "192.0.2.1"},
		"api":       map[string]any{"name": "petstore", "version": "1", "base_path": "/petstore"},
		"operation": map[string]any{"id": "getPet", "method": "GET", "path": "/pets/{id}", "public": false, "security": []any{map[string]any{"jwt": []any{"read"}}}, "scope_mode": "all"},
		"schemes":   map[string]any{"jwt": map[string]any{"type": "http", "scheme": "bearer"}},
		"credentials": map[string]any{"jwt": map[string]any{
			"scheme": "jwt", "type": "jwt", "subject": "alice", "source": "corp", "scopes": []any{"read"},
			"token_id": "jti-1", "issued_at": 1700000000, "client_id": "app-1",
		}},
		"rejections": map[string]any{},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := e.Decide(ctx, in)
		if err != nil || !d.Allow {
			b.Fatal(d, err)
		}
	}
}

// The response-shaping members: response headers (string values only),
// request headers to remove, and a denial body encoded once, refused when
// over bundles.MaxBodyBytes.
func TestDecisionShapingMembers(t *testing.T) {
	big := `"` + strings.Repeat("x", bundles.MaxBodyBytes) + `"`
	cases := []struct {
		name        string
		decision    string
		respHeaders map[string]string
		remove      []string
		body        string
		refused     bool
	}{
		{name: "ok/none", decision: `{"allow": true, "reasons": [], "alternative": 0}`},
		{name: "ok/allow_shaped", decision: `{"allow": true, "reasons": [], "alternative": 0, "response_headers": {"x-plan": "gold", "x-n": 1}, "request_headers_to_remove": ["x-debug", 3]}`,
			respHeaders: map[string]string{"x-plan": "gold"}, remove: []string{"x-debug"}},
		{name: "ok/deny_body", decision: `{"allow": false, "reasons": ["over"], "alternative": -1, "status": 422, "body": {"error": "over", "limit": 1000}}`,
			body: `{"error":"over","limit":1000}`},
		{name: "ok/body_not_object_ignored", decision: `{"allow": false, "reasons": ["over"], "alternative": -1, "body": ["x"]}`},
		{name: "fail/body_too_large", decision: `{"allow": false, "reasons": ["over"], "alternative": -1, "body": {"big": ` + big + `}}`, refused: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeBundle(t, map[string]string{
				"policy.rego": "package gatehouse.authz\n\ndecision := " + c.decision + "\n",
			})
			e, err := bundles.Load(context.Background(), bundles.Options{Bundles: []string{dir}})
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Decide(context.Background(), ast.NewObject())
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(d.ResponseHeaders, c.respHeaders) || !slices.Equal(d.RemoveHeaders, c.remove) {
				t.Errorf("response headers %v remove %v, want %v %v", d.ResponseHeaders, d.RemoveHeaders, c.respHeaders, c.remove)
			}
			if string(d.Body) != c.body || (d.BodyRefused != "") != c.refused {
				t.Errorf("body %q refused %q, want %q refused %v", d.Body, d.BodyRefused, c.body, c.refused)
			}
		})
	}
}
