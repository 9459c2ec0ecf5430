package gateway_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/gateway/openapi"
)

// input.request.body: the refund operation opts in (x-gatehouse-policy-body),
// the upload operation does not and keeps streaming.
const refundsDoc = `
openapi: 3.1.0
info: {title: Refunds, version: "1"}
x-gatehouse-base-path: /refunds
security: [{jwt: []}]
paths:
  /refunds:
    post:
      operationId: createRefund
      x-gatehouse-policy-body: true
      responses: {"200": {description: ok}}
  /upload:
    post: {operationId: upload, responses: {"200": {description: ok}}}
components:
  securitySchemes:
    jwt: {type: http, scheme: bearer}
`

const refundsRego = `package gatehouse.custom

amount := input.request.body.amount if is_number(input.request.body.amount)

amount := to_number(input.request.body.amount[0]) if is_array(input.request.body.amount)

deny contains {"reason": "large_refund", "status": 422, "body": {"error": "large_refund", "limit": 1000}} if amount > 1000

deny contains {"reason": "saw_credential"} if input.request.body.password

deny contains {"reason": "saw_body"} if {
	input.operation.id == "upload"
	input.request.body
}
`

func refundsEnv(t *testing.T) *env {
	cfg := strings.Replace(coreConfig, "  - openapi: bare.yaml\n", "  - openapi: refunds.yaml\n    upstream: ${UPSTREAM}\n  - openapi: bare.yaml\n", 1)
	cfg += "limits: {max_policy_body_bytes: 256}\n"
	return newEnv(t, envOptions{
		config: cfg,
		files: map[string]string{
			"shapes.yaml":         shapesDoc,
			"bare.yaml":           bareDoc,
			"refunds.yaml":        refundsDoc,
			"bundle/.manifest":    `{"revision": "refunds-1", "roots": ["gatehouse/custom"]}`,
			"bundle/refunds.rego": refundsRego,
		},
	})
}

// doBody sends one request with a body; chunked hides its length (HTTP/2
// without content-length).
func (e *env) doBody(method, path string, h http.Header, body string, chunked bool) response {
	e.t.Helper()
	var rd io.Reader = strings.NewReader(body)
	if chunked {
		rd = io.MultiReader(rd)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func TestPolicyBody(t *testing.T) {
	e := refundsEnv(t)
	tok := e.token(nil)
	with := func(ct string, more ...string) http.Header {
		h := bearer(tok)
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		for i := 0; i+1 < len(more); i += 2 {
			h.Set(more[i], more[i+1])
		}
		return h
	}
	const jsonCT, formCT = "application/json", "application/x-www-form-urlencoded"
	big := `{"amount": 5, "note": "` + strings.Repeat("x", 300) + `"}`
	cases := []struct {
		name     string
		path     string
		h        http.Header
		body     string
		chunked  bool
		want     int
		wantBody string // a substring of the answer
	}{
		{name: "ok/json_small", path: "/refunds/refunds", h: with(jsonCT), body: `{"amount": 120, "order": "o-1"}`, want: 200},
		{name: "ok/json_chunked", path: "/refunds/refunds", h: with(jsonCT), body: `{"amount": 120}`, chunked: true, want: 200},
		{name: "ok/form_small", path: "/refunds/refunds", h: with(formCT), body: `amount=5&order=o-1`, want: 200},
		{name: "ok/no_body", path: "/refunds/refunds", h: with(""), want: 200},
		{name: "ok/credential_member_never_reaches_policy", path: "/refunds/refunds", h: with(jsonCT), body: `{"amount": 5, "password": "hunter2-policy-body"}`, want: 200},
		{name: "ok/upload_streams_past_the_policy_limit", path: "/refunds/upload", h: with("application/octet-stream"), body: strings.Repeat("y", 4096), chunked: true, want: 200},
		{name: "fail/json_large_amount", path: "/refunds/refunds", h: with(jsonCT), body: `{"amount": 1000.01}`, want: 422},
		{name: "fail/form_large_amount", path: "/refunds/refunds", h: with(formCT), body: `amount=5000`, want: 422},
		{name: "fail/duplicate_member", path: "/refunds/refunds", h: with(jsonCT), body: `{"amount": 1, "amount": 5000}`, want: 400},
		{name: "fail/malformed", path: "/refunds/refunds", h: with(jsonCT), body: `{"amount": `, want: 400},
		{name: "fail/over_limit_declared", path: "/refunds/refunds", h: with(jsonCT), body: big, want: 413, wantBody: "too large"},
		{name: "fail/over_limit_chunked", path: "/refunds/refunds", h: with(jsonCT), body: big, chunked: true, want: 413},
		{name: "fail/text_plain", path: "/refunds/refunds", h: with("text/plain"), body: `amount 5000`, want: 415},
		{name: "fail/no_content_type", path: "/refunds/refunds", h: with(""), body: `{"amount": 5000}`, want: 415},
		{name: "fail/content_encoded", path: "/refunds/refunds", h: with(jsonCT, "Content-Encoding", "gzip"), body: "\x1f\x8b", want: 415},
		{name: "fail/no_token_no_body_read", path: "/refunds/refunds", h: http.Header{"Content-Type": {jsonCT}}, body: `{"amount": 5}`, want: 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.upstream.count()
			r := e.doBody("POST", c.path, c.h, c.body, c.chunked)
			if r.status != c.want {
				t.Fatalf("status %d, want %d: %s", r.status, c.want, r.body)
			}
			if c.wantBody != "" && !bytes.Contains(r.body, []byte(c.wantBody)) {
				t.Errorf("answer %s, want %q in it", r.body, c.wantBody)
			}
			called := e.upstream.count() > before
			if called != (c.want == 200) {
				t.Fatalf("upstream called: %v", called)
			}
			if called {
				up := e.upstream.last()
				if up.BodyErr != nil || up.BodySum != sha256.Sum256([]byte(c.body)) || up.Body != int64(len(c.body)) {
					t.Fatalf("upstream got %d bytes (%v), not the client's %d unchanged", up.Body, up.BodyErr, len(c.body))
				}
			}
		})
	}
	if strings.Contains(e.logs.String(), "hunter2-policy-body") {
		t.Fatal("a body credential reached the logs")
	}
}

// x-gatehouse-policy-body: the operation's value over the document's; a
// value that is not a boolean is refused (a typo must not silently keep the
// body from a policy that reads it).
func TestPolicyBodyExtension(t *testing.T) {
	cases := []struct {
		name, doc, op string
		want          bool
		err           bool
	}{
		{name: "ok/absent"},
		{name: "ok/operation", op: "true", want: true},
		{name: "ok/document", doc: "true", want: true},
		{name: "ok/operation_overrides_document", doc: "true", op: "false"},
		{name: "fail/string", op: `"yes"`, err: true},
		{name: "fail/document_number", doc: "1", err: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := "openapi: 3.1.0\ninfo: {title: T, version: \"1\"}\nx-gatehouse-base-path: /t\nx-gatehouse-upstream: http://127.0.0.1:1\n"
			if c.doc != "" {
				doc += "x-gatehouse-policy-body: " + c.doc + "\n"
			}
			doc += "paths:\n  /a:\n    post:\n      operationId: a\n      security: []\n      responses: {\"200\": {description: ok}}\n"
			if c.op != "" {
				doc += "      x-gatehouse-policy-body: " + c.op + "\n"
			}
			file := filepath.Join(t.TempDir(), "t.yaml")
			if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			api, err := openapi.LoadAPI(openapi.APIConfig{}, file)
			if c.err {
				if err == nil || !strings.Contains(err.Error(), "x-gatehouse-policy-body") {
					t.Fatalf("err %v, want one naming x-gatehouse-policy-body", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := api.Operations[0].PolicyBody; got != c.want {
				t.Fatalf("PolicyBody %v, want %v", got, c.want)
			}
		})
	}
}

// The body reaches decision logs masked: only the fields the bundle's
// data.system.log.unmask names are written.
func TestPolicyBodyDecisionLog(t *testing.T) {
	cfg := strings.Replace(coreConfig, "  - openapi: bare.yaml\n", "  - openapi: refunds.yaml\n    upstream: ${UPSTREAM}\n  - openapi: bare.yaml\n", 1)
	cfg = strings.Replace(cfg, "policy:\n  bundles: [bundle/]", "policy:\n  bundles: [bundle/]\n  decision_logs: {file: decisions.jsonl}", 1)
	e := newEnv(t, envOptions{
		config: cfg,
		files: map[string]string{
			"shapes.yaml":         shapesDoc,
			"bare.yaml":           bareDoc,
			"refunds.yaml":        refundsDoc,
			"bundle/.manifest":    `{"revision": "refunds-1", "roots": ["gatehouse/custom", "system/log"]}`,
			"bundle/refunds.rego": refundsRego,
			"bundle/log.rego":     "package system.log\n\nunmask contains \"/input/request/body/amount\"\n",
		},
	})
	h := bearer(e.token(nil))
	h.Set("Content-Type", "application/json")
	if r := e.doBody("POST", "/refunds/refunds", h, `{"amount": 77, "customer": "o-secret-customer-77"}`, false); r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	file := filepath.Join(e.dir, "decisions.jsonl")
	var rec struct {
		Input struct {
			Request struct {
				Body map[string]any `json:"body"`
			} `json:"request"`
		} `json:"input"`
		Custom struct {
			Erased []string `json:"erased"`
		} `json:"custom"`
	}
	eventually(t, "the decision record", func() bool {
		raw, _ := os.ReadFile(file)
		return len(raw) > 0 && json.Unmarshal(bytes.SplitN(raw, []byte("\n"), 2)[0], &rec) == nil
	})
	raw, _ := os.ReadFile(file)
	if bytes.Contains(raw, []byte("o-secret-customer-77")) || strings.Contains(e.logs.String(), "o-secret-customer-77") {
		t.Fatalf("a masked body field was logged: %s", raw)
	}
	if rec.Input.Request.Body["amount"] != 77.0 || len(rec.Input.Request.Body) != 1 {
		t.Fatalf("logged body %v, want only the amount", rec.Input.Request.Body)
	}
	if !slices.Contains(rec.Custom.Erased, "/input/request/body/customer") {
		t.Fatalf("erased %v, want the customer", rec.Custom.Erased)
	}
}
