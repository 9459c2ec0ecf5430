package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// The shop API of examples/bundles/shop (its README), with the refund
// operation opted in to the body.
const shopDoc = `
openapi: 3.1.0
info: {title: shop, version: "2"}
x-gatehouse-base-path: /shop/v2
paths:
  /users/{uid}/orders:
    parameters: [{name: uid, in: path, required: true, schema: {type: string}}]
    get: {operationId: listOrders, security: [{jwt: [orders:read]}], responses: {"200": {description: ok}}}
  /refunds:
    post:
      operationId: createRefund
      x-gatehouse-policy-body: true
      security: [{jwt: []}]
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    jwt: {type: http, scheme: bearer}
`

// explain --data/--data-file through the real gateway and the shop bundle:
// the parsed body in input.request.body, and the shop's worked rules.
func TestExplainBody(t *testing.T) {
	t.Setenv("GATEHOUSE_EXPLAIN_TEST_HMAC", explainHMAC)
	dir := t.TempDir()
	shop, err := filepath.Abs("../../examples/bundles/shop")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(explainConfig, "ACME", shop, 1)
	cfg = strings.Replace(cfg, "openapi: shapes.yaml", "openapi: shop.yaml", 1)
	cfg = strings.Replace(cfg, "audiences: [shapes]", "audiences: [shop]", 1)
	cfg = strings.Replace(cfg, "  basic: {type: basic, users_file: users.htpasswd, users_meta_file: users.yaml}\n", "", 1)
	for name, content := range map[string]string{"gatehouse.yaml": cfg, "shop.yaml": shopDoc, "form.txt": "amount=5&order=o-1"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	signer := authntest.Must(authntest.NewSigner("HS256", authntest.WithKID("k1"), authntest.WithSigningKey([]byte(explainHMAC))))
	tok := authntest.Must(signer.Mint(map[string]any{
		"iss": "https://issuer.test/", "aud": "shop", "sub": "alice", "iat": 1700000000, "exp": 4102444800,
		"scope": "orders:read", "tenant": "shop-eu",
	}))
	const monday10 = "2026-11-30T09:00:00Z" // 10:00 in Berlin
	cases := []struct {
		name     string
		args     []string
		status   float64
		reasons  []any
		body     any // input.request.body; nil: absent
		decision string
	}{
		{name: "ok/small_refund", args: []string{"--data", `{"amount": 50, "password": "never-shown"}`}, status: 200, body: map[string]any{"amount": 50.0}},
		{name: "fail/large_refund", args: []string{"--data", `{"amount": 5000}`}, status: 403, reasons: []any{"large_refund_needs_scope"}, body: map[string]any{"amount": 5000.0},
			decision: `"limit":1000`},
		{name: "fail/form_amount_not_a_number", args: []string{"--data-file", filepath.Join(dir, "form.txt"), "-H", "Content-Type: application/x-www-form-urlencoded"},
			status: 422, reasons: []any{"refund_amount_required"}, body: map[string]any{"amount": []any{"5"}, "order": []any{"o-1"}}},
		{name: "fail/no_body", args: nil, status: 422, reasons: []any{"refund_amount_required"}},
		{name: "fail/sunday", args: []string{"--time", "2026-11-29T12:00:00Z", "--data", `{"amount": 5}`}, status: 403, reasons: []any{"outside_refund_hours"}, body: map[string]any{"amount": 5.0}},
		{name: "fail/malformed", args: []string{"--data", `{"amount": 1, "amount": 2}`}, status: 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"explain", "-c", filepath.Join(dir, "gatehouse.yaml"), "--time", monday10, "--method", "POST", "--url", "/shop/v2/refunds", "-H", "Authorization: Bearer " + tok}
			var stdout, stderr bytes.Buffer
			if code := dispatch(append(args, c.args...), &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if strings.Contains(stdout.String(), "never-shown") {
				t.Fatal("a body credential was shown")
			}
			var out map[string]any
			if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			if out["status"] != c.status {
				t.Fatalf("status %v, want %v\n%s", out["status"], c.status, stdout.String())
			}
			if c.reasons != nil {
				d, _ := out["decision"].(map[string]any)
				if got, _ := json.Marshal(d["reasons"]); string(got) != string(must(json.Marshal(c.reasons))) {
					t.Fatalf("reasons %s, want %v", got, c.reasons)
				}
			}
			in, _ := out["input"].(map[string]any)
			req, _ := in["request"].(map[string]any)
			if got, want := must(json.Marshal(req["body"])), must(json.Marshal(c.body)); in != nil && string(got) != string(want) {
				t.Fatalf("input.request.body %s, want %s", got, want)
			}
			if c.decision != "" && !strings.Contains(string(must(json.Marshal(out["decision"]))), c.decision) {
				t.Fatalf("decision %v, want %s in it", out["decision"], c.decision)
			}
		})
	}
}

func TestExplainBodyFlags(t *testing.T) {
	cfg, _ := explainEnv(t)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"fail/data_and_file", []string{"--url", "/x", "--data", "{}", "--data-file", "f"}, 2, "exclude"},
		{"fail/missing_file", []string{"--url", "/x", "--data-file", filepath.Join(t.TempDir(), "nope")}, 1, "--data-file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(append([]string{"explain", "-c", cfg}, c.args...), &stdout, &stderr)
			if code != c.code || !strings.Contains(stderr.String(), c.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr.String(), c.code, c.want)
			}
		})
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
