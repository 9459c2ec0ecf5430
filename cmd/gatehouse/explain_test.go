package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

var update = flag.Bool("update", false, "rewrite testdata/explain/*.golden from the current output")

// The explain environment: the shapes API, a JWT issuer with a fixed HMAC
// test secret (so tokens, and their credential ids, are the same every
// run), Basic users, and the example bundle examples/bundles/acme.
const explainConfig = `
listen: {http_address: "127.0.0.1:0", allow_credentials_over_http: true}
admin: {address: ""}
apis:
  - openapi: shapes.yaml
    upstream: http://127.0.0.1:9/backend
schemes:
  jwt: {type: bearer, issuers: [test]}
  basic: {type: basic, users_file: users.htpasswd, users_meta_file: users.yaml}
issuers:
  - name: test
    issuer: "https://issuer.test/"
    hmac_secret: env:GATEHOUSE_EXPLAIN_TEST_HMAC
    audiences: [shapes]
    max_lifetime: 0s # the golden files' fixed tokens are valid for years
policy:
  bundles: [ACME]
  # Goldens must not depend on the machine's load: -race on a busy 2-core
  # machine can take a decision past the 100ms default.
  decision_timeout: 10s
`

const explainDoc = `
openapi: 3.1.0
info: {title: Shapes, version: "1"}
x-gatehouse-base-path: /shapes
paths:
  /single:
    get:
      operationId: single
      security: [{jwt: [read]}, {basic: []}]
      responses: {"200": {description: ok}}
    post:
      operationId: singleWrite
      security: [{jwt: [write]}]
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    jwt: {type: http, scheme: bearer, bearerFormat: JWT}
    basic: {type: http, scheme: basic}
`

// explainHMAC is a test-only HMAC secret, not a credential of anything.
const explainHMAC = "explain-golden-test-hmac-secret-0123456789abcdef0123456789abcdef"

func explainEnv(t *testing.T) (cfg string, token func(claims map[string]any) string) {
	t.Helper()
	t.Setenv("GATEHOUSE_EXPLAIN_TEST_HMAC", explainHMAC)
	dir := t.TempDir()
	acme, err := filepath.Abs("../../examples/bundles/acme")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"gatehouse.yaml": strings.Replace(explainConfig, "ACME", acme, 1),
		"shapes.yaml":    explainDoc,
		"users.htpasswd": string(authntest.Must(authntest.Htpasswd(map[string]string{"bob": "bob-secret-pw"}, 0))),
		"users.yaml":     "users:\n  bob:\n    scopes: [read]\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	signer := authntest.Must(authntest.NewSigner("HS256", authntest.WithKID("k1"), authntest.WithSigningKey([]byte(explainHMAC))))
	token = func(extra map[string]any) string {
		claims := map[string]any{
			"iss": "https://issuer.test/", "aud": "shapes", "sub": "alice", "client_id": "app-1",
			"iat": 1700000000, "exp": 4102444800, "jti": "golden-1", "scope": "read write", "tenant": "acme",
		}
		for k, v := range extra {
			claims[k] = v
		}
		return authntest.Must(signer.Mint(claims))
	}
	return filepath.Join(dir, "gatehouse.yaml"), token
}

// Golden files of `gatehouse explain` for allow and deny cases, in both
// formats. Time and request id are flags, so the output is the same every
// run; `go test ./cmd/gatehouse -run TestExplainGolden -update` rewrites
// the files after an intended change.
func TestExplainGolden(t *testing.T) {
	cfg, token := explainEnv(t)
	day := "2026-11-26T10:00:00Z"
	cases := []struct {
		name string
		args []string
	}{
		{"allow_jwt", []string{"--url", "/shapes/single", "-H", "Authorization: Bearer " + token(nil)}},
		{"allow_jwt_text", []string{"--format", "text", "--url", "/shapes/single", "-H", "Authorization: Bearer " + token(nil)}},
		{"allow_basic_text", []string{"--format", "text", "--url", "/shapes/single", "-H", "Authorization: Basic Ym9iOmJvYi1zZWNyZXQtcHc="}},
		{"allow_office_write", []string{"--method", "POST", "--url", "/shapes/single", "--remote", "192.0.2.10:51000", "-H", "Authorization: Bearer " + token(nil)}},
		{"deny_missing_credentials", []string{"--url", "/shapes/single"}},
		{"deny_wrong_password_text", []string{"--format", "text", "--url", "/shapes/single", "-H", "Authorization: Basic Ym9iOndyb25n"}},
		{"deny_insufficient_scope", []string{"--method", "POST", "--url", "/shapes/single", "--remote", "192.0.2.10:51000", "-H", "Authorization: Bearer " + token(map[string]any{"scope": "read"})}},
		{"deny_outside_office_text", []string{"--format", "text", "--method", "POST", "--url", "/shapes/single", "--remote", "198.51.100.7:51000", "-H", "Authorization: Bearer " + token(nil)}},
		{"deny_wrong_tenant", []string{"--url", "/shapes/single", "-H", "Authorization: Bearer " + token(map[string]any{"tenant": "globex"})}},
		{"deny_no_route", []string{"--url", "/shapes/nowhere"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"explain", "-c", cfg, "--time", day, "--request-id", "golden-" + c.name}, c.args...)
			if code := dispatch(args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			golden := filepath.Join("..", "..", "testdata", "explain", c.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, stdout.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(stdout.Bytes(), want) {
				got, exp := strings.Split(stdout.String(), "\n"), strings.Split(string(want), "\n")
				for i := 0; i < len(got) || i < len(exp); i++ {
					var g, w string
					if i < len(got) {
						g = got[i]
					}
					if i < len(exp) {
						w = exp[i]
					}
					if g != w {
						t.Fatalf("output differs from %s at line %d (run with -update if intended):\n got: %s\nwant: %s", golden, i+1, g, w)
					}
				}
			}
		})
	}
}

// Bad flags are usage errors (exit 2), with a message.
func TestExplainFlags(t *testing.T) {
	cfg, _ := explainEnv(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"fail/no_url", []string{}, "--url"},
		{"fail/bad_format", []string{"--url", "/x", "--format", "yaml"}, "--format"},
		{"fail/bad_time", []string{"--url", "/x", "--time", "yesterday"}, "--time"},
		{"fail/bad_header", []string{"--url", "/x", "-H", "no-colon"}, "Name: value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(append([]string{"explain", "-c", cfg}, c.args...), &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), c.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), c.want)
			}
		})
	}
}

// --trace appends OPA's rule trace.
func TestExplainTrace(t *testing.T) {
	cfg, _ := explainEnv(t)
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"explain", "-c", cfg, "--url", "/shapes/single", "--trace"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "--- trace ---") || !strings.Contains(stdout.String(), "data.gatehouse.authz.decision") {
		t.Fatalf("no trace in output:\n%s", stdout.String())
	}
}
