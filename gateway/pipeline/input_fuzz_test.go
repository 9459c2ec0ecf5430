package pipeline

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse/gatehouse/gateway/openapi"
	"github.com/gatehouse/gatehouse/gateway/policybody"
)

// fuzzOp is an operation with one API key in a header.
func fuzzOp() *OpInput {
	api := &openapi.API{Name: "shapes", Version: "1", Schemes: map[string]*openapi.SchemeDef{
		"key": {Name: "key", Type: "apiKey", In: "header", ParamName: "X-Api-Key"},
	}}
	secret := map[string]struct{}{"Authorization": {}, "Proxy-Authorization": {}, "Cookie": {}, "X-Api-Key": {}}
	op := &openapi.Operation{API: api, ID: "op", Method: "GET", Path: "/x", Schemes: []string{"key"},
		Security: []openapi.Requirement{{{Scheme: "key"}}}}
	return &OpInput{API: APIValue(api), Operation: OperationValue(op), Schemes: SchemesValue(op), NumSchemes: len(op.Schemes),
		SecretHeaders: secret}
}

// FuzzPolicyInput: any request, with any JSON body on an operation that
// reads it, becomes a valid input document that never carries a credential
// header or a credential-like body member.
func FuzzPolicyInput(f *testing.F) {
	f.Add("GET", "/x", "localhost", "X-Custom", "v", "Bearer secret-token", "")
	f.Add("BREW", "/\x00\xff", "[::1]:8443", "x-api-key", "k", "Basic YTpi", `{"amount": 5, "password": "p"}`)
	f.Add("", "", "", "", "", "", `[{"client_secret": 1}]`)
	op := fuzzOp()
	op.ReadsBody = true
	f.Fuzz(func(t *testing.T, method, path, host, name, value, authz, body string) {
		r := &http.Request{Method: method, Host: host, Header: http.Header{}, URL: &url.URL{Path: path}, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
		if name != "" {
			r.Header.Add(name, value) // net/http canonicalizes names as this does
		}
		r.Header.Set("Authorization", authz)
		r.Header.Set("X-Api-Key", "secret-api-key")
		r.Header.Set("Content-Type", "application/json")
		in := Input{RequestID: "rid", Request: r, Path: path, ClientIP: "127.0.0.1", Op: op, Now: time.Unix(0, 0)}
		if b, reason, _ := ReadBody(r, 4096); reason == "" {
			in.Body = b
		}
		v := in.Value()
		j, err := ast.JSON(v)
		if err != nil {
			t.Fatalf("input does not convert: %v", err)
		}
		b, err := json.Marshal(j)
		if err != nil {
			t.Fatalf("input does not marshal: %v", err)
		}
		hdrs := j.(map[string]any)["request"].(map[string]any)["headers"].(map[string]any)
		for k := range hdrs {
			switch strings.ToLower(k) {
			case "authorization", "x-api-key", "cookie", "proxy-authorization":
				t.Fatalf("credential header %q in the input: %s", k, b)
			}
		}
		bodyTerm := v.(ast.Object).Get(ast.StringTerm("request")).Value.(ast.Object).Get(ast.StringTerm("body"))
		if bodyTerm == nil {
			return
		}
		ast.WalkTerms(bodyTerm, func(term *ast.Term) bool {
			if obj, ok := term.Value.(ast.Object); ok {
				for _, k := range obj.Keys() {
					if s, ok := k.Value.(ast.String); ok && policybody.Credential(string(s)) {
						t.Fatalf("credential-like member %q in the input: %s", s, b)
					}
				}
			}
			return false
		})
	})
}
