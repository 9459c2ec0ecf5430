package decisionlog

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/open-policy-agent/opa/v1/plugins/logs"

	"github.com/gatehouse/gatehouse/bundles"
)

// The body a policy read is masked in decision logs unless the bundle's
// data.system.log.unmask keeps a field.
func TestMaskBody(t *testing.T) {
	body := `{"amount": 5000, "currency": "EUR", "customer": {"name": "Ada", "iban": "DE00", "tier": "gold"}, "note": "x"}`
	cases := []struct {
		name       string
		unmask     string // the rule's body; "" : no unmask policy
		want       string // the logged body; "" : absent
		wantErased []string
	}{
		{name: "masked_by_default", want: "", wantErased: []string{"/input/request/body"}},
		{name: "one_field", unmask: `unmask contains "/input/request/body/amount"`,
			want: `{"amount": 5000}`, wantErased: []string{"/input/request/body/currency", "/input/request/body/customer", "/input/request/body/note"}},
		{name: "nested_field", unmask: "unmask contains \"/input/request/body/customer/tier\"\n\nunmask contains \"/input/request/body/currency\"",
			want: `{"currency": "EUR", "customer": {"tier": "gold"}}`, wantErased: []string{"/input/request/body/amount", "/input/request/body/customer", "/input/request/body/note"}},
		{name: "whole_body", unmask: `unmask contains "/input/request/body"`, want: body},
		{name: "absent_field_keeps_nothing", unmask: `unmask contains "/input/request/body/nope"`, want: "", wantErased: []string{"/input/request/body"}},
		{name: "outside_the_body_ignored", unmask: `unmask contains "/input/request/headers"`, want: "", wantErased: []string{"/input/request/body"}},
		{name: "conditional", unmask: `unmask contains "/input/request/body/amount" if input.input.request.body.amount > 1000`,
			want: `{"amount": 5000}`, wantErased: []string{"/input/request/body/currency", "/input/request/body/customer", "/input/request/body/note"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := bundles.Options{Base: true}
			if c.unmask != "" {
				dir := t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, "log.rego"), []byte("package system.log\n\n"+c.unmask+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				opts.Bundles = []string{dir}
			}
			eng, err := bundles.Load(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			var b any
			if err := json.Unmarshal([]byte(body), &b); err != nil {
				t.Fatal(err)
			}
			var in any = map[string]any{"request": map[string]any{"method": "POST", "body": b}}
			ev := &logs.EventV1{Input: &in}
			if err := maskBody(context.Background(), eng, ev); err != nil {
				t.Fatal(err)
			}
			got, has := in.(map[string]any)["request"].(map[string]any)["body"]
			if c.want == "" {
				if has {
					t.Fatalf("body logged: %v", got)
				}
			} else {
				var want any
				_ = json.Unmarshal([]byte(c.want), &want)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("logged body %v, want %v", got, want)
				}
			}
			if !reflect.DeepEqual(ev.Erased, c.wantErased) {
				t.Fatalf("erased %v, want %v", ev.Erased, c.wantErased)
			}
		})
	}
}
