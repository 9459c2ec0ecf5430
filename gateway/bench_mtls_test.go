package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// BenchmarkMTLS measures Evaluate for a certificate-only API (x-gatehouse-mtls:
// mandatory, a root + intermediate chain, a CRL): the verified-certificate
// cache hit (every request after a connection's first), a verification on
// every request (cache disabled), the certificate forwarded in a header by a
// trusted proxy (parse cache hit), and the chain verification alone.
func BenchmarkMTLS(b *testing.B) {
	dir := b.TempDir()
	root := authntest.Must(authntest.NewCA())
	inter := authntest.Must(root.Intermediate())
	client := authntest.Must(inter.Client("partner-bench", authntest.WithURIs("spiffe://bench/p")))
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	write("ca.pem", root.CertOnlyPEM())
	write("inter.crl", authntest.Must(inter.CRLPEM(nil)))
	write("api.yaml", []byte(`openapi: 3.0.3
info: {title: M, version: "1"}
x-gatehouse-base-path: /m
x-gatehouse-upstream: http://127.0.0.1:9
x-gatehouse-mtls: mandatory
security: []
paths:
  /items/{id}:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
`))
	gen := func(cacheTTL string) *Generation {
		cfgText := `listen: {address: "127.0.0.1:0", http_address: "127.0.0.1:0", allow_credentials_over_http: true}
admin: {address: ""}
apis:
  - openapi: api.yaml
    client_ca_files: [ca.pem]
    mtls: {crl_files: [inter.crl], application_from: cn, cache_ttl: ` + cacheTTL + `}
mtls:
  forwarded_certificate: {format: pem, trusted_proxies: [192.0.2.1]}
`
		cfg, err := config.Parse(filepath.Join(dir, "gatehouse.yaml"), []byte(cfgText))
		if err != nil {
			b.Fatal(err)
		}
		return benchGeneration(b, cfg)
	}
	cached, uncached := gen("5m"), gen("1ns")
	chain := append([]*x509.Certificate{client.Certificate}, client.Chain...)
	direct := benchRequest("GET", "/m/items/42", "")
	direct.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: direct.Host, PeerCertificates: chain}
	forwarded := benchRequest("GET", "/m/items/42", "")
	forwarded.RemoteAddr = "192.0.2.1:5555"
	pemHeader := url.QueryEscape(string(client.CertPEM()))

	cases := []struct {
		name string
		g    *Generation
		r    *http.Request
		hdr  string // X-SSL-Client-Cert, set before each evaluation (the pipeline removes it)
	}{
		{"tls-cached", cached, direct, ""},
		{"tls-verify-every-request", uncached, direct, ""},
		{"forwarded-pem-cached", cached, forwarded, pemHeader},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			now := time.Now()
			eval := func() *pipeline.Evaluation {
				if c.hdr != "" {
					c.r.Header["X-Ssl-Client-Cert"] = []string{c.hdr}
				}
				return c.g.Evaluate(c.r, "bench-req-1", now)
			}
			if ev := eval(); ev.Status != 0 {
				b.Fatalf("not allowed: status %d reason %q failure %v", ev.Status, ev.Reason, ev.Failure)
			}
			b.ReportAllocs()
			for b.Loop() {
				if ev := eval(); ev.Status != 0 {
					b.Fatal(ev.Status, ev.Reason)
				}
			}
		})
	}
	b.Run("verify-chain-only", func(b *testing.B) {
		trust := authntest.Must(authn.NewTrust("bench", []string{filepath.Join(dir, "ca.pem")}, []string{filepath.Join(dir, "inter.crl")}))
		m := authntest.Must(authn.NewMTLS("cert", authn.MTLSConfig{Trust: trust}, authn.WithCacheTTL(0)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Verify(chain); err != nil {
				b.Fatal(err)
			}
		}
	})
}
