package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/gatehouse/gatehouse/gateway"
)

// bundleServer is a loopback OPA bundle service: it serves the current
// bundle with an ETag, answers 304 to a matching If-None-Match, and counts
// what it answered. down makes it answer 503.
type bundleServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   []byte
	etag   string
	down   bool
	noETag bool // like a plain file server without ETags: 200 on every poll
	counts map[int]int
}

func newBundleServer(t *testing.T) *bundleServer {
	s := &bundleServer{counts: map[int]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		status := http.StatusOK
		switch {
		case s.down:
			status = http.StatusServiceUnavailable
		case r.URL.Path != "/bundles/acme.tar.gz":
			status = http.StatusNotFound
		case !s.noETag && s.etag != "" && strings.Contains(r.Header.Get("If-None-Match"), s.etag):
			status = http.StatusNotModified
		}
		s.counts[status]++
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		if !s.noETag {
			w.Header().Set("ETag", s.etag)
		}
		w.Header().Set("Content-Type", "application/gzip")
		_, _ = w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *bundleServer) publish(b []byte) {
	sum := sha256.Sum256(b)
	s.mu.Lock()
	s.body, s.etag = b, `"`+hex.EncodeToString(sum[:8])+`"`
	s.mu.Unlock()
}

func (s *bundleServer) count(status int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[status]
}

func (s *bundleServer) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// signingKey is a bundle signing key generated for the test (never stored).
type signingKey struct {
	private []byte // PKCS#1 PEM, what `opa build --signing-key` reads
	public  string // PKIX PEM, what the gateway's keys config holds
}

func newSigningKey(t *testing.T) signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{
		private: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}),
		public:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
	}
}

// buildBundle builds a bundle tarball the way `opa build` does, signed with
// key (as `opa build --signing-key`) unless key is nil.
func buildBundle(t *testing.T, revision, rego string, key *signingKey) []byte {
	t.Helper()
	roots := []string{"gatehouse/custom"}
	b := bundle.Bundle{
		Manifest: bundle.Manifest{Revision: revision, Roots: &roots},
		Data:     map[string]any{},
		Modules: []bundle.ModuleFile{{
			URL: "/custom.rego", Path: "/custom.rego", Raw: []byte(rego),
			Parsed: ast.MustParseModuleWithOpts(rego, ast.ParserOptions{RegoVersion: ast.RegoV1}),
		}},
	}
	if key != nil {
		if err := b.GenerateSignature(bundle.NewSigningConfig(string(key.private), "RS256", ""), "k1", false); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func remoteConfig(server string, key signingKey) string {
	indented := "          " + strings.ReplaceAll(strings.TrimSpace(key.public), "\n", "\n          ")
	return `
listen:
  address: 127.0.0.1:0
  tls: {cert_file: server.pem, key_file: server-key.pem}
admin: {address: 127.0.0.1:0}
apis:
  - openapi: shapes.yaml
    upstream: ${UPSTREAM}/backend
schemes:
  jwt: {type: bearer, issuers: [test]}
  basic: {type: basic, users_file: users.htpasswd, users_meta_file: users.yaml, realm: shapes}
issuers:
  - {name: test, issuer: "https://issuer.test/", jwks_file: issuer.jwks, audiences: [shapes]}
policy:
  decision_timeout: 5s
  remote:
    services:
      hub: {url: "` + server + `"}
    bundles:
      acme:
        service: hub
        resource: bundles/acme.tar.gz
        persist: true
        polling: {min_delay_seconds: 1, max_delay_seconds: 1}
        signing: {keyid: k1}
    keys:
      k1:
        algorithm: RS256
        key: |
` + indented + `
    persistence_directory: persisted
    startup_timeout: 20s
log: {level: trace}
`
}

// Remote bundles through OPA's downloader: ETag polling, signature
// verification, keep-the-old-one on any failure, and the persisted copy
// when the gateway restarts while the bundle service is down.
func TestRemoteBundles(t *testing.T) {
	key, other := newSigningKey(t), newSigningKey(t)
	srv := newBundleServer(t)
	srv.publish(buildBundle(t, "r1", rulesRego("v1"), &key))
	e := newEnv(t, envOptions{
		config: remoteConfig(srv.URL, key),
		files:  map[string]string{"shapes.yaml": shapesDoc},
	})
	tok := e.token(nil)
	if rev := e.revision(); !strings.Contains(rev, "acme=r1") {
		t.Fatalf("revision at start %q, want acme=r1", rev)
	}
	if s := e.blockedBy(tok, "v1"); s != http.StatusForbidden {
		t.Fatalf("r1 rules not deciding: %d", s)
	}

	t.Run("ok/etag_polls_get_304", func(t *testing.T) {
		e.waitFor("a 304", func() bool { return srv.count(http.StatusNotModified) >= 1 })
		if n := srv.count(http.StatusOK); n != 1 {
			t.Fatalf("%d full downloads of an unchanged bundle, want 1", n)
		}
	})

	steps := []struct {
		name     string
		bundle   []byte
		active   string // revision expected to decide afterwards
		blocks   string // x-block value the deciding rules block
		errorHas string // in remote_bundles.acme.last_error ("" = none)
	}{
		{"ok/new_revision", buildBundle(t, "r2", rulesRego("v2"), &key), "r2", "v2", ""},
		{"fail/bad_signature", buildBundle(t, "r3", rulesRego("v3"), &other), "r2", "v2", "verification"},
		{"fail/unsigned", buildBundle(t, "r4", rulesRego("v4"), nil), "r2", "v2", "signature"},
		{"fail/does_not_compile", buildBundle(t, "r5", "package gatehouse.custom\n\ndeny contains {\"reason\": \"x\"} if no_such_fn(1)\n", &key), "r2", "v2", "rejected"},
		{"ok/repaired", buildBundle(t, "r6", rulesRego("v6"), &key), "r6", "v6", ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			failuresBefore := e.readyz().Remote["acme"].Failures
			srv.publish(st.bundle)
			if st.errorHas == "" {
				took := e.waitFor("revision "+st.active, func() bool { return strings.Contains(e.revision(), "acme="+st.active) })
				t.Logf("%s active %v after publishing (polling every 1s)", st.active, took)
			} else {
				e.waitFor("the rejection", func() bool { return e.readyz().Remote["acme"].Failures > failuresBefore })
				rz := e.readyz()
				if !strings.Contains(rz.Remote["acme"].LastError, st.errorHas) || rz.Status != "degraded" {
					t.Fatalf("readyz %+v, want degraded with %q", rz, st.errorHas)
				}
			}
			if rev := e.revision(); !strings.Contains(rev, "acme="+st.active) {
				t.Fatalf("revision %q, want acme=%s", rev, st.active)
			}
			if s := e.blockedBy(tok, st.blocks); s != http.StatusForbidden {
				t.Fatalf("rules of %s not deciding: %d", st.active, s)
			}
			if s := e.blockedBy(tok, "none"); s != http.StatusOK {
				t.Fatalf("allowed request: %d", s)
			}
		})
	}

	t.Run("ok/restart_with_service_down_uses_persisted", func(t *testing.T) {
		if rz := e.readyz(); rz.Status != "ready" || rz.Remote["acme"].LastError != "" {
			t.Fatalf("readyz before restart %+v", rz)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		srv.setDown(true)
		logs := &syncBuffer{}
		log := hclog.New(&hclog.LoggerOptions{Output: logs, JSONFormat: true, Level: hclog.Debug})
		again, err := gateway.New(context.Background(), filepath.Join(e.dir, "gatehouse.yaml"), gateway.Options{Logger: log})
		if err != nil {
			t.Fatalf("restart with the bundle service down: %v", err)
		}
		defer func() { _ = again.Shutdown(context.Background()) }()
		if rev := again.Generation().Engine.Revision(); !strings.Contains(rev, "acme=r6") {
			t.Fatalf("revision after restart %q, want the persisted acme=r6", rev)
		}
		if !strings.Contains(logs.String(), "persisted bundle loaded") {
			t.Fatal("no log of the persisted bundle")
		}
	})

	t.Run("fail/no_service_no_persisted_copy", func(t *testing.T) {
		cfg := strings.Replace(remoteConfig(srv.URL, key), "persistence_directory: persisted", "persistence_directory: empty", 1)
		cfg = strings.Replace(cfg, "startup_timeout: 20s", "startup_timeout: 1s", 1)
		cfg = strings.ReplaceAll(cfg, "${UPSTREAM}", e.upstream.URL)
		e.write("no-copy.yaml", cfg)
		_, err := gateway.New(context.Background(), filepath.Join(e.dir, "no-copy.yaml"), gateway.Options{})
		if err == nil || !strings.Contains(err.Error(), "remote bundle unavailable") {
			t.Fatalf("start without service or copy: %v", err)
		}
	})
}

// A bundle server without ETags answers every poll with the whole bundle;
// as long as its content is the same, no generation is built (before: one
// rebuild per poll). New content still activates.
func TestRemoteBundleWithoutETagRebuildsOnlyOnChange(t *testing.T) {
	key := newSigningKey(t)
	srv := newBundleServer(t)
	srv.noETag = true
	srv.publish(buildBundle(t, "r1", rulesRego("v1"), &key))
	e := newEnv(t, envOptions{
		config: remoteConfig(srv.URL, key),
		files:  map[string]string{"shapes.yaml": shapesDoc},
	})
	gen := e.srv.Generation().ID
	e.waitFor("three more full downloads", func() bool { return srv.count(http.StatusOK) >= 4 })
	e.waitFor("the last one counted", func() bool { return e.readyz().Remote["acme"].Unchanged >= 3 })
	if got := e.srv.Generation().ID; got != gen {
		t.Fatalf("generation %d after unchanged downloads, want %d (no rebuild)", got, gen)
	}
	if srv.count(http.StatusNotModified) != 0 {
		t.Fatal("the server sent a 304; the test needs a server without ETags")
	}

	tok := e.token(nil)
	srv.publish(buildBundle(t, "r2", rulesRego("v2"), &key))
	e.waitFor("revision r2", func() bool { return strings.Contains(e.revision(), "acme=r2") })
	if s := e.blockedBy(tok, "v2"); s != http.StatusForbidden {
		t.Fatalf("r2 rules not deciding: %d", s)
	}
	if got := e.srv.Generation().ID; got == gen {
		t.Fatal("new content did not build a new generation")
	}
}
