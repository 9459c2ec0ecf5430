package pipeline

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestPathParamsValue(t *testing.T) {
	tests := []struct {
		name, tmpl, path, want string
	}{
		{name: "ok/one", tmpl: "/shop/v1/users/{uid}/orders", path: "/shop/v1/users/alice/orders", want: `{"uid": "alice"}`},
		{name: "ok/two", tmpl: "/shop/v1/users/{uid}/orders/{oid}", path: "/shop/v1/users/alice/orders/42", want: `{"oid": "42", "uid": "alice"}`},
		{name: "ok/decoded-by-normalization", tmpl: "/p/{name}", path: "/p/a b", want: `{"name": "a b"}`},
		{name: "ok/prefix-suffix", tmpl: "/reports/r-{id}.pdf", path: "/reports/r-7.pdf", want: `{"id": "7"}`},
		{name: "ok/no-params", tmpl: "/pets", path: "/pets", want: `{}`},
		{name: "skip/two-in-one-segment", tmpl: "/x/{a}-{b}", path: "/x/1-2", want: `{}`},
		{name: "fail/segment-count", tmpl: "/users/{uid}", path: "/users/a/b", want: `{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op := &OpInput{}
			op.PathParams, op.PathSegs = CompilePathParams(tc.tmpl)
			got := op.pathParamsValue(tc.path)
			if want := ast.MustParseTerm(tc.want); !got.Equal(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestQueryValue(t *testing.T) {
	tests := []struct {
		name, raw string
		strip     []string
		want      string
	}{
		{name: "ok/repeated-and-order", raw: "tag=b&status=open&tag=a", want: `{"status": ["open"], "tag": ["b", "a"]}`},
		{name: "ok/decoded", raw: "q=a%20b+c&n%61me=x", want: `{"q": ["a b c"], "name": ["x"]}`},
		{name: "ok/no-value", raw: "flag&x=", want: `{"flag": [""], "x": [""]}`},
		{name: "ok/bad-escape-as-sent", raw: "q=%zz", want: `{"q": ["%zz"]}`},
		{name: "strip/api-key", raw: "api_key=secret&limit=5", strip: []string{"api_key"}, want: `{"limit": ["5"]}`},
		{name: "strip/encoded-api-key-name", raw: "api%5Fkey=secret", strip: []string{"api_key"}, want: `{}`},
		{name: "ok/empty", raw: "", want: `{}`},
		{name: "ok/empty-parts", raw: "&&a=1&", want: `{"a": ["1"]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op := &OpInput{StripQuery: tc.strip}
			got := op.queryValue(tc.raw)
			if want := ast.MustParseTerm(tc.want); !got.Equal(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}
