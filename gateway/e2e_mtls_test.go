package gateway_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// mtlsPKI is a generated partner PKI: API "partners" trusts partnerRoot
// (certificates through an intermediate), API "vendors" trusts vendorRoot.
type mtlsPKI struct {
	partnerRoot, partnerInter, vendorRoot *authntest.CA
	partner, vendor                       *authntest.Cert
	expired, notYet, serverEKU, revoked   *authntest.Cert
	caAsLeaf                              *authntest.Cert
}

func newMTLSPKI(t *testing.T) *mtlsPKI {
	t.Helper()
	p := &mtlsPKI{}
	p.partnerRoot = authntest.Must(authntest.NewCA(authntest.WithCommonName("Partner Root")))
	p.partnerInter = authntest.Must(p.partnerRoot.Intermediate(authntest.WithCommonName("Partner Issuing CA")))
	p.vendorRoot = authntest.Must(authntest.NewCA(authntest.WithCommonName("Vendor Root")))
	p.partner = authntest.Must(p.partnerInter.Client("partner-1", authntest.WithURIs("spiffe://partners.test/p1")))
	p.vendor = authntest.Must(p.vendorRoot.Client("vendor-1"))
	p.expired = authntest.Must(p.partnerInter.Client("partner-expired", authntest.Expired()))
	p.notYet = authntest.Must(p.partnerInter.Client("partner-later", authntest.NotYetValid()))
	p.serverEKU = authntest.Must(p.partnerInter.Client("partner-server", authntest.WithEKU(x509.ExtKeyUsageServerAuth)))
	p.revoked = authntest.Must(p.partnerInter.Client("partner-revoked"))
	p.caAsLeaf = authntest.Must(p.partnerInter.Issue(authntest.WithIsCA(true), authntest.WithCommonName("sub-ca"),
		authntest.WithEKU(x509.ExtKeyUsageClientAuth)))
	return p
}

// files are the PEM files every mTLS env gets.
func (p *mtlsPKI) files() map[string]string {
	return map[string]string{
		"partner-ca.pem":    string(p.partnerRoot.CertOnlyPEM()),
		"vendor-ca.pem":     string(p.vendorRoot.CertOnlyPEM()),
		"partner-inter.crl": string(authntest.Must(p.partnerInter.CRLPEM([]*authntest.Cert{p.revoked}))),
	}
}

// certClient returns an HTTP/1.1 client of env e presenting cert (nil: no
// certificate), with SNI serverName ("localhost" when empty).
func (e *env) certClient(cert *authntest.Cert, serverName string) *http.Client {
	e.t.Helper()
	if serverName == "" {
		serverName = "localhost"
	}
	pool := x509.NewCertPool()
	pool.AddCert(e.ca.Certificate)
	tc := &tls.Config{RootCAs: pool, ServerName: serverName}
	if cert != nil {
		c := cert.TLS()
		tc.Certificates = []tls.Certificate{c}
	}
	c := &http.Client{
		Transport: &http.Transport{TLSClientConfig: tc, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}},
		Timeout:   20 * time.Second,
	}
	e.t.Cleanup(c.CloseIdleConnections)
	return c
}

var mtlsConfig = withFixtures(`
apis:
  - openapi: partners.yaml
    upstream: ${UPSTREAM}
    client_ca_files: [partner-ca.pem]
    mtls:
      crl_files: [partner-inter.crl]
      application_from: cn
  - openapi: vendors.yaml
    upstream: ${UPSTREAM}
    client_ca_files: [vendor-ca.pem]
schemes:
  clientCert: {type: mtls}
  jwt: {type: bearer, issuers: [test]}
# Generous: the shared test machine starves requests under -race.
policy: {decision_timeout: 5s}
log: {level: trace}
mtls:
  upstream_header: X-Forwarded-Client-Cert
`, "listen", "issuer")

// partners.yaml: OpenAPI 3.1 with a mutualTLS scheme.
const partnersDoc = `
openapi: 3.1.0
info: {title: Partners, version: "1"}
x-gatehouse-base-path: /partners
paths:
  /cert:
    get:
      security: [{clientCert: []}]
      responses: {"200": {description: ok}}
  /cert-and-token:
    get:
      security: [{clientCert: [], jwt: [read]}]
      responses: {"200": {description: ok}}
  /cert-or-token:
    get:
      security: [{clientCert: []}, {jwt: [read]}]
      responses: {"200": {description: ok}}
  /token:
    get:
      security: [{jwt: [read]}]
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    clientCert: {type: mutualTLS}
    jwt: {type: http, scheme: bearer}
`

// vendors.yaml: OpenAPI 3.0 with x-gatehouse-mtls.
const vendorsDoc = `
openapi: 3.0.3
info: {title: Vendors, version: "1"}
x-gatehouse-base-path: /vendors
x-gatehouse-mtls: mandatory
paths:
  /cert:
    get:
      responses: {"200": {description: ok}}
`

func mtlsEnv(t *testing.T, p *mtlsPKI, config string, extra map[string]string) *env {
	files := p.files()
	files["partners.yaml"] = partnersDoc
	files["vendors.yaml"] = vendorsDoc
	for k, v := range extra {
		files[k] = v
	}
	return newEnv(t, envOptions{config: config, files: files})
}

// Per-API trust: each API accepts exactly the certificates of its own CA,
// checked after routing on one listener.
func TestMTLSPerAPITrust(t *testing.T) {
	t.Parallel()
	p := newMTLSPKI(t)
	e := mtlsEnv(t, p, mtlsConfig, nil)
	tests := []struct {
		name   string
		cert   *authntest.Cert
		path   string
		status int
	}{
		{"ok/partner cert on partners", p.partner, "/partners/cert", 200},
		{"ok/vendor cert on vendors", p.vendor, "/vendors/cert", 200},
		{"fail/partner cert on vendors", p.partner, "/vendors/cert", 401},
		{"fail/vendor cert on partners", p.vendor, "/partners/cert", 401},
		{"fail/no cert on partners", nil, "/partners/cert", 401},
		{"fail/no cert on vendors", nil, "/vendors/cert", 401},
		{"fail/expired", p.expired, "/partners/cert", 401},
		{"fail/not yet valid", p.notYet, "/partners/cert", 401},
		{"fail/serverAuth EKU", p.serverEKU, "/partners/cert", 401},
		{"fail/revoked by CRL", p.revoked, "/partners/cert", 401},
		{"fail/CA certificate as leaf", p.caAsLeaf, "/partners/cert", 401},
		{"ok/a certificate is not needed on token routes", p.vendor, "/partners/token", 401}, // no token: 401, cert irrelevant
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.upstream.count()
			r := e.doWith(e.certClient(tc.cert, ""), "GET", tc.path, nil)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if called := e.upstream.count() > before; called != (tc.status == 200) {
				t.Fatalf("upstream called: %v", called)
			}
		})
	}
	// The upstream gets the certificate identity in the signed assertion and
	// in the gateway's own XFCC header.
	r := e.doWith(e.certClient(p.partner, ""), "GET", "/partners/cert", hdr("X-Forwarded-Client-Cert", "Hash=spoofed;Subject=\"CN=admin\""))
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	got := e.upstream.last().Header
	xfcc := got.Get("X-Forwarded-Client-Cert")
	if !strings.Contains(xfcc, `Subject="CN=partner-1,O=Gatehouse test"`) || strings.Contains(xfcc, "spoofed") || !strings.Contains(xfcc, "URI=spiffe://partners.test/p1") {
		t.Errorf("upstream XFCC %q", xfcc)
	}
	tok, err := jwt.ParseInsecure([]byte(got.Get("X-JWT-Assertion")))
	if err != nil {
		t.Fatal(err)
	}
	certClaim, _ := tok.Get("certificate")
	b, _ := json.Marshal(certClaim)
	for _, want := range []string{`"subject":"CN=partner-1,O=Gatehouse test"`, `"spiffe_id":"spiffe://partners.test/p1"`, `"not_after":`, `"fingerprint_sha256":"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("assertion certificate claim %s lacks %s", b, want)
		}
	}
	if app, _ := tok.Get("application"); app != "partner-1" {
		t.Errorf("application %v, want the CN (application_from: cn)", app)
	}
}

// Two documents with the same title and version, at different base paths
// with different client CAs, still get separate trust.
func TestMTLSTrustIsolationSameName(t *testing.T) {
	t.Parallel()
	p := newMTLSPKI(t)
	twin := func(base string) string {
		return strings.Replace(vendorsDoc, "x-gatehouse-base-path: /vendors", "x-gatehouse-base-path: "+base, 1)
	}
	cfg := withFixtures(`
apis:
  - {openapi: a.yaml, upstream: "${UPSTREAM}", client_ca_files: [partner-ca.pem]}
  - {openapi: b.yaml, upstream: "${UPSTREAM}", client_ca_files: [vendor-ca.pem]}
policy: {decision_timeout: 5s}
`, "listen")
	e := mtlsEnv(t, p, cfg, map[string]string{"a.yaml": twin("/a"), "b.yaml": twin("/b")})
	tests := []struct {
		name, path string
		cert       *authntest.Cert
		status     int
	}{
		{"ok/partner on a", "/a/cert", p.partner, 200},
		{"fail/partner on b", "/b/cert", p.partner, 401},
		{"ok/vendor on b", "/b/cert", p.vendor, 200},
		{"fail/vendor on a", "/a/cert", p.vendor, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.doWith(e.certClient(tc.cert, ""), "GET", tc.path, nil); r.status != tc.status {
				t.Fatalf("status %d, want %d", r.status, tc.status)
			}
		})
	}
}
