package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/gateway"
)

const cliConfig = `
listen: {http_address: "127.0.0.1:0", allow_credentials_over_http: true}
admin: {address: ""}
apis:
  - openapi: partners.yaml
    upstream: UPSTREAM
schemes:
  key: {type: api_key}
api_keys:
  issuer: "https://gatehouse.test/apikeys"
  signing_key_file: sts-key.pem
  default_validity: 24h
  max_validity: 720h
`

const cliDoc = `
openapi: 3.0.3
info: {title: Partners, version: "1"}
x-gatehouse-base-path: /partners
security: [{key: []}]
paths:
  /orders:
    get: {responses: {"200": {description: ok}}}
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-API-Key}
`

func writeCLIEnv(t *testing.T, config string) string {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	t.Cleanup(up.Close)
	dir := t.TempDir()
	key := authntest.Must(authntest.GenerateKey(authntest.ECDSAP256))
	files := map[string]string{
		"gatehouse.yaml": strings.ReplaceAll(config, "UPSTREAM", up.URL),
		"partners.yaml":  cliDoc,
		"sts-key.pem":    string(authntest.Must(authntest.PrivateKeyPEM(key))),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "gatehouse.yaml")
}

func run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = dispatch(args, &o, &e)
	return code, o.String(), e.String()
}

func TestAPIKeyIssueCLI(t *testing.T) {
	cfg := writeCLIEnv(t, cliConfig)
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"ok/issue", []string{"--api", "partners:1", "--validity", "720h", "--subject", "partner-1", "--application", "app-1"}, 0, "issued API key id="},
		{"ok/name-only", []string{"--api", "partners", "--application", "app-1", "--scope", "read"}, 0, ""},
		{"ok/all-apis", []string{"--all-apis", "--subject", "ops"}, 0, ""},
		{"fail/over-max-validity", []string{"--api", "partners", "--subject", "s", "--validity", "721h"}, 2, "exceeds the maximum"},
		{"fail/no-expiry-refused", []string{"--api", "partners", "--subject", "s", "--no-expiry"}, 2, "not allowed"},
		{"fail/unknown-api", []string{"--api", "orders:1", "--subject", "s"}, 2, "no API orders:1"},
		{"fail/no-api", []string{"--subject", "s"}, 2, "apis is required"},
		{"fail/bad-flag", []string{"--nope"}, 2, "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(append([]string{"apikey", "issue", "-c", cfg}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.err) {
				t.Fatalf("code %d (want %d), stderr %q (want %q)", code, tc.code, errOut, tc.err)
			}
			if code != 0 {
				return
			}
			key := strings.TrimSpace(out)
			if strings.Count(key, ".") != 2 || strings.Contains(errOut, key) {
				t.Fatalf("stdout %q", out)
			}
		})
	}
}

// A key the CLI signs offline is accepted by a gateway running the same
// config, and only for the API it names.
func TestAPIKeyCLIKeyWorksOnGateway(t *testing.T) {
	cfg := writeCLIEnv(t, cliConfig)
	code, out, errOut := run("apikey", "issue", "-c", cfg, "--api", "partners:1", "--subject", "ci", "--json")
	if code != 0 {
		t.Fatalf("issue: %d %s", code, errOut)
	}
	var issued struct {
		Key       string    `json:"key"`
		ID        string    `json:"id"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(out), &issued); err != nil || issued.Key == "" || issued.ID == "" {
		t.Fatalf("json output %q: %v", out, err)
	}
	if d := time.Until(issued.ExpiresAt); d <= 23*time.Hour || d > 24*time.Hour {
		t.Errorf("default validity gives expiry in %s", d)
	}

	srv, err := gateway.New(context.Background(), cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	for _, tc := range []struct {
		name, key string
		want      int
	}{
		{"ok/cli-key", issued.Key, 200},
		{"fail/tampered", authntest.TamperSignature(issued.Key), 401},
	} {
		req, _ := http.NewRequest("GET", "http://"+srv.PlainAddr().String()+"/partners/orders", nil)
		req.Header.Set("X-API-Key", tc.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}

	// jwks prints the key set a replica loads; it verifies the CLI's key.
	code, jwks, errOut := run("apikey", "jwks", "-c", cfg)
	if code != 0 {
		t.Fatalf("jwks: %d %s", code, errOut)
	}
	keys, err := authn.ParseJWKS([]byte(jwks), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := authn.NewAPIKey("k", authn.APIKeyConfig{Location: authn.APIKeyLocation{In: "header", Name: "X"},
		Issuer: &authn.APIKeyIssuer{Name: "r", Issuer: "https://gatehouse.test/apikeys", Keys: keys}})
	if _, err := a.Verify(context.Background(), issued.Key); err != nil {
		t.Fatalf("replica verification: %v", err)
	}
}

func TestAPIKeyCLIErrors(t *testing.T) {
	noKeys := writeCLIEnv(t, strings.Replace(cliConfig, "api_keys:\n  issuer: \"https://gatehouse.test/apikeys\"\n  signing_key_file: sts-key.pem\n  default_validity: 24h\n  max_validity: 720h\n", "", 1))
	cases := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"fail/no-subcommand", []string{"apikey"}, 2, "usage: gatehouse apikey"},
		{"fail/unknown-subcommand", []string{"apikey", "revoke"}, 2, "unknown subcommand"},
		{"fail/no-api-keys-section", []string{"apikey", "issue", "-c", noKeys, "--all-apis", "--subject", "s"}, 1, "no api_keys section"},
		{"fail/jwks-no-section", []string{"apikey", "jwks", "-c", noKeys}, 1, "no api_keys section"},
		{"fail/missing-config", []string{"apikey", "issue", "-c", "/nonexistent.yaml", "--all-apis"}, 1, "read config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.err) {
				t.Fatalf("code %d, stderr %q; want %d %q", code, errOut, tc.code, tc.err)
			}
		})
	}
}

func TestAPIKeyHashCLI(t *testing.T) {
	cases := []struct {
		name, in string
		code     int
		want     string
	}{
		{"ok/key", "s3cret-static-key\n", 0, authn.HashAPIKey("s3cret-static-key")},
		{"ok/trimmed", "  s3cret-static-key  \r\n", 0, authn.HashAPIKey("s3cret-static-key")},
		{"fail/empty", "\n", 1, ""},
		{"fail/nothing", "", 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var o, e bytes.Buffer
			code := apikeyHash(strings.NewReader(tc.in), &o, &e)
			if code != tc.code || strings.TrimSpace(o.String()) != tc.want {
				t.Fatalf("code %d out %q err %q", code, o.String(), e.String())
			}
			if strings.Contains(o.String()+e.String(), "s3cret") {
				t.Fatal("the key was echoed")
			}
		})
	}
}
