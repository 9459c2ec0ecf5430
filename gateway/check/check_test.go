package check_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authn/keymanager"
	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/check"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// runs is what `gatehouse run` does with a config, up to serving: New, then
// Start. Addresses with a fixed port move to 127.0.0.1:0 so a busy port on
// the test machine is not mistaken for a config problem (addresses that do
// not parse stay as they are: those are the config's problem).
func runs(t *testing.T, path string) error {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	loopback := func(a *string) {
		if _, port, err := net.SplitHostPort(*a); err == nil && port != "0" && port != "" && len(port) <= 5 && port < "65536" {
			*a = "127.0.0.1:0"
		}
	}
	// A file token store goes to a temporary folder, not into testdata/.
	if k := cfg.InternalKeyManager; k != nil && k.Store.Type == keymanager.StoreFile {
		k.Store.Path = filepath.Join(t.TempDir(), "tokens.db")
	}
	loopback(&cfg.Listen.Address)
	loopback(&cfg.Listen.HTTPAddress)
	if cfg.Admin.Address != nil {
		loopback(cfg.Admin.Address)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := gateway.New(ctx, path, gateway.Options{Config: cfg})
	if err != nil {
		return err
	}
	defer func() { _ = srv.Shutdown(context.Background()) }()
	return srv.Start()
}

// For every config in testdata/config/ that `run` refuses, `check -online`
// fails: check never says ok about a config the gateway will not serve.
// (Offline, check skips only what needs the network; TestInvalidConfigs
// runs it on every invalid fixture.)
func TestCheckRefusesWhatRunRefuses(t *testing.T) {
	t.Setenv("GATEHOUSE_TEST_REDIS_PASSWORD", "test-only") // valid/internal-key-manager.yaml
	var files []string
	for _, dir := range []string{"valid", "invalid"} {
		m, _ := filepath.Glob(filepath.Join("../../testdata/config", dir, "*.yaml"))
		files = append(files, m...)
	}
	refused := 0
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			runErr := runs(t, f)
			// check -online: everything run does at start, network included
			// (a Redis token store that does not answer stops run too).
			rep, checkErr := check.File(context.Background(), f, check.Options{Online: true, Build: gateway.BuildForCheck})
			if checkErr == nil {
				for _, p := range rep.Probes {
					if p.Err != nil {
						checkErr = p.Err
					}
				}
			}
			if runErr != nil {
				refused++
				if checkErr == nil {
					t.Fatalf("run refuses (%v) but check -online says ok", runErr)
				}
			}
		})
	}
	if refused < 100 {
		t.Fatalf("run refused only %d configs; the fixtures are not being read", refused)
	}
}

// One run of check lists the schema errors and the semantic ones together,
// in words, each once, each at the key that names the problem.
func TestCheckReportsEverythingAtOnce(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	schemaAndSemantic := write("mixed.yaml", `
listen: {http_address: "127.0.0.1:0", allow_credentials_over_http: true, read_header_timeout: '5 minutes'}
admin: {address: ""}
apis: [{openapi: x.yaml, upstrem: "http://x"}]
issuers:
  - {name: corp, issuer: "https://idp.example/", jwks_file: k.json}
schemes:
  petsJWT: {type: bearer, issuers: [nope]}
`)
	oneFileManyOps := "../../testdata/config/invalid/jwks-file-missing.yaml"
	tests := []struct {
		name string
		path string
		want []string // pointer: message fragments, each exactly once
	}{
		{name: "schema-and-semantic", path: schemaAndSemantic, want: []string{
			`/apis/0/upstrem: unknown key "upstrem"`,
			`/listen/read_header_timeout: "5 minutes" is not a duration such as 5m`,
			`/issuers/0/audiences: issuer "corp" accepts no audience`,
			`/schemes/petsJWT/issuers/0: unknown issuer "nope"`,
		}},
		{name: "missing-file-once-at-its-key", path: oneFileManyOps, want: []string{
			`/issuers/0/jwks_file: issuer "corp": open`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := check.File(context.Background(), tc.path, check.Options{Build: gateway.BuildForCheck})
			var ces config.Errors
			if !errors.As(err, &ces) {
				t.Fatalf("error %v is not ConfigErrors", err)
			}
			if len(ces) != len(tc.want) {
				t.Fatalf("%d errors, want %d:\n%v", len(ces), len(tc.want), err)
			}
			for _, w := range tc.want {
				if n := strings.Count(err.Error(), w); n != 1 {
					t.Errorf("%q appears %d times in:\n%v", w, n, err)
				}
			}
		})
	}
}

// Warnings: exit 0 for `run`, but probably a mistake.
func TestCheckWarnings(t *testing.T) {
	dir := t.TempDir()
	cfg := `
listen: {address: "127.0.0.1:0", http_address: "127.0.0.1:0", allow_credentials_over_http: true}
admin: {address: ""}
apis: [{openapi: ` + abs(t, "../../testdata/openapi/petstore-3.0.yaml") + `}]
schemes:
  jwt: {type: bearer, issuers: [corp]}
  basic: {type: basic, users_file: ` + abs(t, "../../testdata/config/users.htpasswd") + `}
  petJWT: {type: bearer, issuers: [corp]}
  opaque: {type: bearer, key_managers: [a, b]}
  routed: {type: bearer, key_managers: [c, a]}
key_managers:
  - {name: a, introspection_url: 'https://a.example/introspect', auth_method: none}
  - {name: b, introspection_url: 'https://b.example/introspect', auth_method: none}
  - {name: c, introspection_url: 'https://c.example/introspect', auth_method: none, token_prefix: ory_at_}
issuers:
  - {name: corp, issuer: 'https://idp.example/', jwks_file: ` + abs(t, "../../testdata/keys/public-jwks.json") + `, audiences: [petstore]}
  - {name: spare, issuer: 'https://idp.example/', jwks_file: ` + abs(t, "../../testdata/keys/public-jwks.json") + `, audiences: [other]}
`
	p := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := check.File(context.Background(), p, check.Options{Build: gateway.BuildForCheck})
	if err != nil {
		t.Fatal(err)
	}
	got := rep.Warnings.Error()
	for _, w := range []string{
		`/schemes/petJWT: scheme "petJWT" is configured but no operation of any API uses it (the API definitions use: basic, jwt)`,
		`/issuers/1: issuer "spare" is configured but no scheme an operation uses trusts it`,
		`/issuers/1/issuer: issuer "spare" has the same iss "https://idp.example/" as /issuers/0`,
		`/listen/address: listen.address "127.0.0.1:0" is set but listen.tls is not`,
		`/listen/allow_credentials_over_http: passwords, API keys and bearer tokens are accepted over plain HTTP on 127.0.0.1:0`,
		`/schemes/opaque/key_managers: scheme "opaque" sends opaque tokens to 2 key managers in turn (a, b)`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("warnings lack %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, `scheme "routed" sends`) {
		t.Errorf("a scheme with one unrouted key manager was warned about:\n%s", got)
	}
	// 5, the routing warning, schemes opaque and routed and key managers
	// a, b, c unused.
	if len(rep.Warnings) != 11 {
		t.Errorf("%d warnings, want 11:\n%s", len(rep.Warnings), got)
	}
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// check -online reports each remote dependency: a key set that answers
// (with its key ids), a discovery document whose issuer differs from the
// configured one only by a trailing slash, an endpoint that refuses.
func TestCheckOnlineProbes(t *testing.T) {
	jwks, err := os.ReadFile("../../testdata/keys/public-jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var base string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/jwks":
			_, _ = w.Write(jwks)
		case "/.well-known/openid-configuration":
			fmt.Fprintf(w, `{"issuer": %q, "jwks_uri": %q}`, base, base+"/jwks") // no trailing slash
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	base = srv.URL
	cfg := `
listen: {http_address: "127.0.0.1:0", allow_credentials_over_http: true}
admin: {address: ""}
apis: [{openapi: ` + abs(t, "../../testdata/openapi/petstore-3.0.yaml") + `}]
schemes:
  jwt: {type: bearer, issuers: [good, slash, down]}
  basic: {type: basic, users_file: ` + abs(t, "../../testdata/config/users.htpasswd") + `}
issuers:
  - {name: good, issuer: 'https://good.example/', jwks_url: '` + base + `/jwks', audiences: [petstore]}
  - {name: slash, issuer: '` + base + `/', discovery: true, audiences: [petstore]}
  - {name: down, issuer: 'https://down.example/', jwks_url: 'http://127.0.0.1:1/jwks', audiences: [petstore]}
`
	p := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := check.File(context.Background(), p, check.Options{Online: true, Build: gateway.BuildForCheck})
	if err != nil {
		t.Fatal(err)
	}
	byPtr := map[string]check.Probe{}
	for _, pr := range rep.Probes {
		byPtr[pr.Pointer] = pr
	}
	if pr := byPtr["/issuers/0"]; pr.Err != nil || !strings.Contains(pr.Detail, "key(s)") {
		t.Errorf("good issuer: %+v", pr)
	}
	if pr := byPtr["/issuers/1"]; pr.Err == nil || !strings.Contains(pr.Err.Error(), "differ only by a trailing slash") {
		t.Errorf("trailing-slash issuer: %+v", pr)
	}
	if pr := byPtr["/issuers/2"]; pr.Err == nil {
		t.Errorf("unreachable issuer reported ok: %+v", pr)
	}
	if len(rep.Probes) != 3 {
		t.Errorf("%d probes, want 3: %+v", len(rep.Probes), rep.Probes)
	}
}
