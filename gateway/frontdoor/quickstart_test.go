package frontdoor_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"sigs.k8s.io/yaml"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/apikeys"
	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// The quickstart (examples/quickstart: its config, OpenAPI documents, users
// and bundle, unchanged) with the material `gatehouse pki` makes, generated
// here, and both front doors on: ext_authz (gRPC, TLS) trusting 127.0.0.1,
// forward-auth (HTTPS) trusting 127.0.0.1 (the real NGINX and Caddy) and
// 127.0.0.2, which is also the proxy whose certificate header
// (mtls.forwarded_certificate) is believed. Tests call the proxy from
// 127.0.0.1, so its clients' certificates come from TLS; 127.0.0.3 is
// nobody's trusted proxy.

const (
	qsIssuer   = "https://issuer.gatehouse.local/"
	qsAudience = "petstore"
	// fwdProxyAddr is the loopback address the forward-auth "proxy" calls from.
	fwdProxyAddr = "127.0.0.2"
	certHeader   = "X-Client-Cert"
	strangerAddr = "127.0.0.3"
)

type quickstart struct {
	t        testing.TB
	dir      string
	ca       *authntest.CA
	client   *authntest.Cert
	srv      *gateway.Server
	logs     *syncBuffer
	up       *recordingUpstream
	tokens   map[string]string
	apiKey   string
	base     string // https://127.0.0.1:port (the proxy)
	faBase   string // https://127.0.0.1:port (forward-auth)
	grpcAddr string
	admin    string
	pool     *x509.CertPool
}

func startQuickstart(t testing.TB) *quickstart {
	t.Helper()
	return startQuickstartWith(t, nil)
}

// startQuickstartWith adds files (name → content, e.g. a rule in
// bundle/) to the quickstart before it starts.
func startQuickstartWith(t testing.TB, extra map[string]string) *quickstart {
	t.Helper()
	q := &quickstart{t: t, dir: t.TempDir(), logs: &syncBuffer{}}
	q.ca = authntest.Must(authntest.NewCA())
	q.pool = q.ca.Pool()
	pki := filepath.Join(q.dir, "pki")
	must(t, os.MkdirAll(pki, 0o700))
	srv := authntest.Must(q.ca.Server("localhost", "127.0.0.1"))
	_, _, err := srv.WriteFiles(pki, "server")
	must(t, err)
	_, err = q.ca.Cert.WriteCertFile(pki, "ca")
	must(t, err)
	q.client = authntest.Must(q.ca.Client("demo-client"))
	signer := authntest.Must(authntest.NewSigner("ES256", authntest.WithKID("demo-1")))
	must(t, os.WriteFile(filepath.Join(pki, "issuer-jwks.json"), authntest.Must(authntest.JWKS(signer)), 0o644))
	stsKey := authntest.Must(authntest.GenerateKey(authntest.ECDSAP256))
	must(t, os.WriteFile(filepath.Join(pki, "apikeys-key.pem"), authntest.Must(authntest.PrivateKeyPEM(stsKey)), 0o600))
	q.tokens = quickstartTokens(t, signer)

	q.up = newRecordingUpstream(t)
	src := filepath.Join("..", "..", "examples", "quickstart")
	for _, f := range []string{"petstore.yaml", "partners.yaml", "users.htpasswd", "users.yaml", "bundle/data.json"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		must(t, err)
		b = bytes.ReplaceAll(b, []byte("http://127.0.0.1:9000"), []byte(q.up.URL))
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(q.dir, f)), 0o755))
		must(t, os.WriteFile(filepath.Join(q.dir, f), b, 0o600))
	}
	for name, content := range extra {
		content = strings.ReplaceAll(content, "http://127.0.0.1:9000", q.up.URL)
		must(t, os.WriteFile(filepath.Join(q.dir, name), []byte(content), 0o600))
	}
	raw, err := os.ReadFile(filepath.Join(src, "gatehouse.yaml"))
	must(t, err)
	raw = bytes.ReplaceAll(raw, []byte("../../.dev/pki/"), []byte(pki+"/"))
	var cfg map[string]any
	must(t, yaml.Unmarshal(raw, &cfg))
	listen := cfg["listen"].(map[string]any)
	listen["address"] = "127.0.0.1:0"
	tlsFiles := map[string]any{"cert_file": pki + "/server.pem", "key_file": pki + "/server-key.pem"}
	listen["ext_authz"] = map[string]any{"address": "127.0.0.1:0", "tls": tlsFiles, "trusted_proxies": []string{"127.0.0.1"}}
	listen["forward_auth"] = map[string]any{"address": "127.0.0.1:0", "tls": tlsFiles, "trusted_proxies": []string{"127.0.0.1", fwdProxyAddr}}
	cfg["admin"] = map[string]any{"address": "127.0.0.1:0"}
	cfg["mtls"] = map[string]any{"forwarded_certificate": map[string]any{"header": certHeader, "format": "pem", "trusted_proxies": []string{fwdProxyAddr}}}
	ak := cfg["api_keys"].(map[string]any)
	ep := ak["endpoint"].(map[string]any)
	ep["basic_users_file"], ep["basic_users_meta_file"] = "users.htpasswd", "users.yaml"
	// A loaded 2-core CI machine under -race must not fail a decision closed.
	cfg["policy"].(map[string]any)["decision_timeout"] = "10s"
	out, err := yaml.Marshal(cfg)
	must(t, err)
	cfgPath := filepath.Join(q.dir, "gatehouse.yaml")
	must(t, os.WriteFile(cfgPath, out, 0o600))

	loaded, err := config.Load(cfgPath)
	must(t, err)
	svc, err := gateway.APIKeyService(loaded)
	must(t, err)
	issued, err := svc.Issue(apikeys.Request{APIs: []authn.APIRef{{Name: "petstore"}}, Application: "demo-app", Validity: "1h"})
	must(t, err)
	q.apiKey = issued.Key

	var logs io.Writer = q.logs
	if _, bench := t.(*testing.B); bench {
		logs = io.Discard // the audit lines are written, as in production, and not kept
	}
	log := hclog.New(&hclog.LoggerOptions{Output: logs, JSONFormat: true, Level: hclog.Info})
	s, err := gateway.New(context.Background(), cfgPath, gateway.Options{Logger: log, AuditOutput: logs})
	must(t, err)
	must(t, s.Start())
	q.srv = s
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	q.base = "https://" + s.Addr().String()
	q.faBase = "https://" + s.ForwardAuthAddr().String()
	q.grpcAddr = s.ExtAuthzAddr().String()
	q.admin = "http://" + s.AdminAddr().String()
	return q
}

// quickstartTokens are the demo tokens of `gatehouse pki`.
func quickstartTokens(t testing.TB, signer *authntest.Signer) map[string]string {
	now := time.Now()
	edits := map[string]func(c map[string]any){
		"read":  func(c map[string]any) { c["scope"] = "read:pets" },
		"write": func(c map[string]any) { c["scope"] = "read:pets write:pets" },
		"expired": func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		},
		"wrongaud": func(c map[string]any) { c["aud"] = "another-api"; c["scope"] = "read:pets" },
		"revoked":  func(c map[string]any) { c["jti"] = "revoked-demo-token"; c["scope"] = "read:pets" },
	}
	out := map[string]string{}
	for name, edit := range edits {
		c := authntest.Claims(qsIssuer, qsAudience, now, time.Hour)
		c["sub"], c["client_id"] = "demo-user", "demo-app"
		edit(c)
		out[name] = authntest.Must(signer.Mint(c))
	}
	return out
}

// httpClient trusts the quickstart CA, optionally presents the demo client
// certificate, and dials from local (an address or "").
func (q *quickstart) httpClient(withCert bool, local string) *http.Client {
	tc := &tls.Config{RootCAs: q.pool, ServerName: "localhost"}
	if withCert {
		tc.Certificates = []tls.Certificate{q.client.TLS()}
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c := &http.Client{
		Transport: &http.Transport{TLSClientConfig: tc, DialContext: d.DialContext, ForceAttemptHTTP2: true},
		Timeout:   20 * time.Second,
	}
	q.t.Cleanup(c.CloseIdleConnections)
	return c
}

// audit returns the audit line of a request id.
func (q *quickstart) audit(rid string) map[string]any {
	q.t.Helper()
	var found map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for found == nil && time.Now().Before(deadline) {
		q.srv.FlushAudit()
		for _, line := range strings.Split(q.logs.String(), "\n") {
			if !strings.Contains(line, `"request_id":"`+rid+`"`) || !strings.Contains(line, `"@message":"request"`) {
				continue
			}
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil {
				found = m
			}
		}
		if found == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if found == nil {
		q.t.Fatalf("no audit line for %s", rid)
	}
	return found
}

// recordingUpstream records what reached it, by X-Request-Id.
type recordingUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]http.Header
}

func newRecordingUpstream(t testing.TB) *recordingUpstream {
	u := &recordingUpstream{seen: map[string]http.Header{}}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen[r.Header.Get("X-Request-Id")] = r.Header.Clone()
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"upstream":"ok"}`))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *recordingUpstream) headers(rid string) http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.seen[rid]
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// selfSigned is a client certificate no API trusts (PEM).
func selfSigned(t testing.TB) []byte {
	ca := authntest.Must(authntest.NewCA())
	return authntest.Must(ca.Client("stranger")).CertPEM()
}

// TestExampleConfigs: the gateway configs shipped beside each proxy are
// valid configs (the files they name come from `make pki`).
func TestExampleConfigs(t *testing.T) {
	for _, name := range []string{"nginx", "caddy", "traefik", "envoy"} {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load(filepath.Join("..", "..", "examples", name, "gatehouse.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Listen.ForwardAuth == nil && cfg.Listen.ExtAuthz == nil {
				t.Error("no front door configured")
			}
		})
	}
}
