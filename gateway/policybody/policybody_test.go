package policybody_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse/gatehouse/gateway/policybody"
)

func TestKindOf(t *testing.T) {
	cases := []struct {
		name, ct string
		want     policybody.Kind
		err      error
	}{
		{name: "ok/json", ct: "application/json", want: policybody.KindJSON},
		{name: "ok/json_utf8", ct: "application/json; charset=UTF-8", want: policybody.KindJSON},
		{name: "ok/problem_json", ct: "application/merge-patch+json", want: policybody.KindJSON},
		{name: "ok/form", ct: "application/x-www-form-urlencoded", want: policybody.KindForm},
		{name: "fail/none", ct: "", err: policybody.ErrUnsupportedType},
		{name: "fail/text", ct: "text/plain", err: policybody.ErrUnsupportedType},
		{name: "fail/multipart", ct: "multipart/form-data; boundary=x", err: policybody.ErrUnsupportedType},
		{name: "fail/latin1", ct: "application/json; charset=iso-8859-1", err: policybody.ErrUnsupportedType},
		{name: "fail/garbage", ct: "application/json; ;;=", err: policybody.ErrUnsupportedType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := policybody.KindOf(c.ct)
			if !errors.Is(err, c.err) || (c.err == nil && k != c.want) {
				t.Fatalf("KindOf(%q) = %v, %v; want %v, %v", c.ct, k, err, c.want, c.err)
			}
		})
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		name string
		kind policybody.Kind
		body string
		want string // Rego term; "" : nil (absent)
		err  error
	}{
		{name: "ok/json_object", kind: policybody.KindJSON, body: `{"amount": 1000.5, "currency": "EUR", "items": [1, {"a": null}], "ok": true}`,
			want: `{"amount": 1000.5, "currency": "EUR", "items": [1, {"a": null}], "ok": true}`},
		{name: "ok/json_scalar", kind: policybody.KindJSON, body: ` 42 `, want: `42`},
		{name: "ok/json_big_number", kind: policybody.KindJSON, body: `{"n": 123456789012345678901234567890}`, want: `{"n": 123456789012345678901234567890}`},
		{name: "ok/empty", kind: policybody.KindJSON, body: ``},
		{name: "ok/credentials_left_out", kind: policybody.KindJSON, body: `{"user": "a", "Password": "x", "nested": {"client_secret": "y", "refresh-token": "z", "keep": 1}, "list": [{"api_key": "k"}]}`,
			want: `{"user": "a", "nested": {"keep": 1}, "list": [{}]}`},
		{name: "ok/form", kind: policybody.KindForm, body: `amount=5&tag=a&tag=b&note=caf%C3%A9+au+lait`, want: `{"amount": ["5"], "tag": ["a", "b"], "note": ["café au lait"]}`},
		{name: "ok/form_credentials_left_out", kind: policybody.KindForm, body: `grant_type=password&username=a&password=b&client_secret=c`, want: `{"grant_type": ["password"], "username": ["a"]}`},
		{name: "fail/json_duplicate_member", kind: policybody.KindJSON, body: `{"amount": 1, "amount": 99999}`, err: policybody.ErrMalformed},
		{name: "fail/json_duplicate_nested", kind: policybody.KindJSON, body: `{"a": {"b": 1, "b": 2}}`, err: policybody.ErrMalformed},
		{name: "fail/json_trailing", kind: policybody.KindJSON, body: `{"a": 1} {"a": 2}`, err: policybody.ErrMalformed},
		{name: "fail/json_truncated", kind: policybody.KindJSON, body: `{"a": [1, 2`, err: policybody.ErrMalformed},
		{name: "fail/json_invalid_utf8", kind: policybody.KindJSON, body: "{\"a\": \"\xff\"}", err: policybody.ErrMalformed},
		{name: "fail/json_too_deep", kind: policybody.KindJSON, body: strings.Repeat("[", policybody.MaxDepth+1) + strings.Repeat("]", policybody.MaxDepth+1), err: policybody.ErrMalformed},
		{name: "fail/json_not_json", kind: policybody.KindJSON, body: `amount=5`, err: policybody.ErrMalformed},
		{name: "fail/form_semicolon", kind: policybody.KindForm, body: `a=1;b=2`, err: policybody.ErrMalformed},
		{name: "fail/form_bad_escape", kind: policybody.KindForm, body: `a=%zz`, err: policybody.ErrMalformed},
		{name: "fail/form_invalid_utf8", kind: policybody.KindForm, body: `a=%ff`, err: policybody.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := policybody.Parse(c.kind, []byte(c.body))
			if !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if c.err != nil {
				return
			}
			if c.want == "" {
				if v != nil {
					t.Fatalf("value %v, want none", v)
				}
				return
			}
			if want := ast.MustParseTerm(c.want).Value; v.Compare(want) != 0 {
				t.Fatalf("value %v\nwant  %v", v, want)
			}
		})
	}
}

// Read over a real loopback server: the body comes back byte for byte
// whatever the framing, and over the limit it is refused.
func TestRead(t *testing.T) {
	const limit = 64
	cases := []struct {
		name    string
		body    string
		chunked bool
		err     error
	}{
		{name: "ok/declared", body: `{"amount": 5}`},
		{name: "ok/chunked", body: `{"amount": 5}`, chunked: true},
		{name: "ok/at_limit", body: strings.Repeat("x", limit)},
		{name: "ok/none", body: ""},
		{name: "fail/declared_over", body: strings.Repeat("x", limit+1), err: policybody.ErrTooLarge},
		{name: "fail/chunked_over", body: strings.Repeat("x", limit+1), chunked: true, err: policybody.ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			type result struct {
				raw, again []byte
				err        error
			}
			got := make(chan result, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				raw, err := policybody.Read(r, limit)
				res := result{raw: raw, err: err}
				if err == nil && r.Body != nil {
					res.again, _ = io.ReadAll(r.Body)
				}
				got <- res
			}))
			defer srv.Close()
			var body io.Reader = strings.NewReader(c.body)
			if c.chunked {
				body = io.MultiReader(strings.NewReader(c.body)) // unknown length: chunked
			}
			req, err := http.NewRequest("POST", srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			res := <-got
			if !errors.Is(res.err, c.err) {
				t.Fatalf("err %v, want %v", res.err, c.err)
			}
			if c.err == nil && (string(res.raw) != c.body || !bytes.Equal(res.again, []byte(c.body))) {
				t.Fatalf("read %q, upstream would get %q, want %q", res.raw, res.again, c.body)
			}
		})
	}
}

func TestEncodedBody(t *testing.T) {
	cases := []struct {
		name string
		ce   []string
		want bool
	}{
		{name: "none"}, {name: "identity", ce: []string{"identity"}},
		{name: "gzip", ce: []string{"gzip"}, want: true}, {name: "list", ce: []string{"identity, br"}, want: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := policybody.EncodedBody(http.Header{"Content-Encoding": c.ce}); got != c.want {
				t.Fatalf("got %v", got)
			}
		})
	}
}
