package authn_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

// testPKI is the PKI of the mTLS tests: a root and an intermediate that
// issue the partner certificates, plus another CA whose certificates no
// test trust accepts.
type testPKI struct {
	dir                string
	root, inter, other *authntest.CA
	valid, viaRoot     *authntest.Cert
	expired, notYet    *authntest.Cert
	serverEKU, noEKU   *authntest.Cert
	revoked, foreign   *authntest.Cert
	inter2Leaf         *authntest.Cert // never revoked by any test
	rootFile, crlFile  string
	interCRLFile       string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	p.root = authntest.Must(authntest.NewCA(authntest.WithCommonName("Partner Root")))
	p.inter = authntest.Must(p.root.Intermediate(authntest.WithCommonName("Partner Issuing CA")))
	p.other = authntest.Must(authntest.NewCA(authntest.WithCommonName("Other Root")))
	p.valid = authntest.Must(p.inter.Client("partner-1",
		authntest.WithHosts("partner-1.example"),
		authntest.WithEmails("ops@partner-1.example"),
		authntest.WithURIs("spiffe://partners.example/ns/p1/sa/api")))
	p.viaRoot = authntest.Must(p.root.Client("partner-root-issued"))
	p.expired = authntest.Must(p.inter.Client("partner-expired", authntest.Expired()))
	p.notYet = authntest.Must(p.inter.Client("partner-later", authntest.NotYetValid()))
	p.serverEKU = authntest.Must(p.inter.Client("partner-server", authntest.WithEKU(x509.ExtKeyUsageServerAuth)))
	p.noEKU = authntest.Must(p.inter.Client("partner-noeku", authntest.WithEKU()))
	p.revoked = authntest.Must(p.inter.Client("partner-revoked"))
	p.inter2Leaf = authntest.Must(p.inter.Client("partner-2"))
	p.foreign = authntest.Must(p.other.Client("partner-1"))
	p.rootFile = authntest.Must(p.root.Cert.WriteCertFile(p.dir, "root"))
	p.crlFile = filepath.Join(p.dir, "root.crl")
	p.writeFile(t, p.crlFile, authntest.Must(p.root.CRLPEM(nil)))
	p.interCRLFile = filepath.Join(p.dir, "inter.crl")
	p.writeFile(t, p.interCRLFile, authntest.Must(p.inter.CRL([]*authntest.Cert{p.revoked})))
	return p
}

func (p *testPKI) writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := authntest.WriteAtomically(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func chainOf(c *authntest.Cert) []*x509.Certificate {
	return append([]*x509.Certificate{c.Certificate}, c.Chain...)
}

func certRequest(chain []*x509.Certificate) *http.Request {
	r := httptest.NewRequest("GET", "https://gw.test/x", nil)
	r.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: chain}
	return r
}

func TestMTLSOutcomes(t *testing.T) {
	p := newTestPKI(t)
	trust := authntest.Must(authn.NewTrust("partners", []string{p.rootFile}, []string{p.crlFile, p.interCRLFile}))
	m := authntest.Must(authn.NewMTLS("clientCert", authn.MTLSConfig{Trust: trust, ApplicationFrom: "cn"}))

	caAsLeaf := &authntest.Cert{Certificate: p.inter.Certificate, Key: p.inter.Key, Chain: nil}
	tests := []struct {
		name   string
		chain  []*x509.Certificate
		reason authn.Reason // "" = accepted
		noCred bool
	}{
		{name: "ok/leaf with intermediate", chain: chainOf(p.valid)},
		{name: "ok/issued by the root itself", chain: chainOf(p.viaRoot)},
		{name: "fail/no certificate", noCred: true},
		{name: "fail/expired", chain: chainOf(p.expired), reason: authn.ReasonExpired},
		{name: "fail/not yet valid", chain: chainOf(p.notYet), reason: authn.ReasonNotYetValid},
		{name: "fail/serverAuth only", chain: chainOf(p.serverEKU), reason: authn.ReasonUntrustedCertificate},
		{name: "fail/no EKU at all", chain: chainOf(p.noEKU), reason: authn.ReasonUntrustedCertificate},
		{name: "fail/CA as leaf", chain: chainOf(caAsLeaf), reason: authn.ReasonUntrustedCertificate},
		{name: "fail/root as leaf", chain: []*x509.Certificate{p.root.Certificate}, reason: authn.ReasonUntrustedCertificate},
		{name: "fail/revoked by the intermediate's CRL", chain: chainOf(p.revoked), reason: authn.ReasonRevoked},
		{name: "fail/from another CA", chain: chainOf(p.foreign), reason: authn.ReasonUntrustedCertificate},
		{name: "fail/leaf without its intermediate", chain: []*x509.Certificate{p.valid.Certificate}, reason: authn.ReasonUntrustedCertificate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 2 { // the second answer comes from the cache
				id, err := m.Authenticate(certRequest(tc.chain))
				switch {
				case tc.noCred:
					if !errors.Is(err, authn.ErrNoCredentials) {
						t.Fatalf("round %d: err %v, want ErrNoCredentials", round, err)
					}
				case tc.reason != "":
					rej, ok := authn.AsRejection(err)
					if !ok || rej.Reason != tc.reason {
						t.Fatalf("round %d: err %v, want rejection %s", round, err, tc.reason)
					}
				default:
					if err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
					if id.Type != authn.TypeMTLS || id.Source != "partners" || id.Certificate == nil {
						t.Fatalf("identity %+v", id)
					}
				}
			}
		})
	}
}

func TestMTLSIdentity(t *testing.T) {
	p := newTestPKI(t)
	trust := authntest.Must(authn.NewTrust("partners", []string{p.rootFile}, nil))
	m := authntest.Must(authn.NewMTLS("clientCert", authn.MTLSConfig{Trust: trust, ApplicationFrom: "spiffe_id", SubjectFrom: "cn"}))
	id, err := m.Authenticate(certRequest(chainOf(p.valid)))
	if err != nil {
		t.Fatal(err)
	}
	c := id.Certificate
	fp := authntest.Must(authn.NormalizeFingerprint(c.FingerprintSHA256))
	checks := map[string][2]string{
		"subject":     {id.Subject, "partner-1"},
		"application": {id.Application, "spiffe://partners.example/ns/p1/sa/api"},
		"dn":          {c.Subject, "CN=partner-1,O=Gatehouse test"},
		"issuer":      {c.Issuer, "CN=Partner Issuing CA,O=Gatehouse test"},
		"token_id":    {id.TokenID, fp},
		"spiffe":      {c.SPIFFEID, "spiffe://partners.example/ns/p1/sa/api"},
		"dns":         {c.DNSNames[0], "partner-1.example"},
		"email":       {c.Emails[0], "ops@partner-1.example"},
		"serial":      {c.Serial, hex.EncodeToString(p.valid.Certificate.SerialNumber.Bytes())}, // even length, as openssl prints it
	}
	for name, v := range checks {
		if v[0] != v[1] {
			t.Errorf("%s = %q, want %q", name, v[0], v[1])
		}
	}
	if !c.NotAfter.Equal(p.valid.Certificate.NotAfter) || !id.ExpiresAt.Equal(c.NotAfter) {
		t.Errorf("not_after %v", c.NotAfter)
	}
	if authn.Thumbprint(p.valid.Certificate) != p.valid.Thumbprint() {
		t.Error("Thumbprint differs from the RFC 8705 x5t#S256")
	}
	m2 := id.Map()["certificate"].(map[string]any)
	if m2["not_after"] == nil || m2["spiffe_id"] == nil {
		t.Errorf("identity document certificate: %v", m2)
	}
}

// A certificate of API A's CA never authenticates on API B.
func TestMTLSTrustIsolation(t *testing.T) {
	p := newTestPKI(t)
	otherFile := authntest.Must(p.other.Cert.WriteCertFile(p.dir, "other"))
	a := authntest.Must(authn.NewMTLS("cert", authn.MTLSConfig{Trust: authntest.Must(authn.NewTrust("api-a", []string{p.rootFile}, nil))}))
	b := authntest.Must(authn.NewMTLS("cert", authn.MTLSConfig{Trust: authntest.Must(authn.NewTrust("api-b", []string{otherFile}, nil))}))
	tests := []struct {
		name string
		m    *authn.MTLS
		cert *authntest.Cert
		ok   bool
	}{
		{"ok/partner cert on A", a, p.valid, true},
		{"fail/partner cert on B", b, p.valid, false},
		{"ok/other cert on B", b, p.foreign, true},
		{"fail/other cert on A", a, p.foreign, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.m.Authenticate(certRequest(chainOf(tc.cert)))
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestMTLSAllowLists(t *testing.T) {
	p := newTestPKI(t)
	trust := authntest.Must(authn.NewTrust("partners", []string{p.rootFile}, nil))
	validFP := authn.DescribeCertificate(p.valid.Certificate).FingerprintSHA256
	tests := []struct {
		name string
		cfg  authn.MTLSConfig
		cert *authntest.Cert
		ok   bool
	}{
		{"ok/fingerprint pinned (colons, upper case)", authn.MTLSConfig{AllowedFingerprints: []string{colons(validFP)}}, p.valid, true},
		{"fail/another fingerprint pinned", authn.MTLSConfig{AllowedFingerprints: []string{validFP}}, p.viaRoot, false},
		{"ok/subject pattern", authn.MTLSConfig{AllowedSubjects: []string{"CN=partner-*,O=Gatehouse test"}}, p.valid, true},
		{"fail/subject pattern", authn.MTLSConfig{AllowedSubjects: []string{"CN=partner-2*"}}, p.valid, false},
		{"ok/SPIFFE pattern", authn.MTLSConfig{AllowedSANs: []string{"spiffe://partners.example/ns/*/sa/api"}}, p.valid, true},
		{"ok/DNS pattern", authn.MTLSConfig{AllowedSANs: []string{"*.example"}}, p.valid, true},
		{"fail/SAN pattern", authn.MTLSConfig{AllowedSANs: []string{"spiffe://other.example/*"}}, p.valid, false},
		{"ok/any list may match", authn.MTLSConfig{AllowedSANs: []string{"nope"}, AllowedSubjects: []string{"*partner-root-issued*"}}, p.viaRoot, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Trust = trust
			m := authntest.Must(authn.NewMTLS("cert", tc.cfg))
			_, err := m.Authenticate(certRequest(chainOf(tc.cert)))
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				if rej, ok := authn.AsRejection(err); !ok || rej.Reason != authn.ReasonUntrustedCertificate {
					t.Fatalf("err %v, want untrusted_certificate", err)
				}
			}
		})
	}
}

func colons(hexs string) string {
	out := ""
	for i := 0; i < len(hexs); i += 2 {
		if i > 0 {
			out += ":"
		}
		out += strings.ToUpper(hexs[i : i+2])
	}
	return out
}

// CRL problems fail closed: an expired CRL, a CRL that becomes unreadable on
// reload, a CRL signed by someone else. A good reload recovers, and a
// reload never serves a cached verdict of the older material.
func TestMTLSCRLFailsClosed(t *testing.T) {
	p := newTestPKI(t)
	trust := authntest.Must(authn.NewTrust("partners", []string{p.rootFile}, []string{p.crlFile, p.interCRLFile}))
	m := authntest.Must(authn.NewMTLS("cert", authn.MTLSConfig{Trust: trust}))
	ok := func(t *testing.T) {
		t.Helper()
		if _, err := m.Authenticate(certRequest(chainOf(p.valid))); err != nil {
			t.Fatalf("valid certificate: %v", err)
		}
	}
	technical := func(t *testing.T, want error) {
		t.Helper()
		_, err := m.Authenticate(certRequest(chainOf(p.valid)))
		if _, isRej := authn.AsRejection(err); err == nil || isRej || !errors.Is(err, want) {
			t.Fatalf("err %v, want a technical failure wrapping %v", err, want)
		}
	}
	ok(t)

	t.Run("fail/expired CRL", func(t *testing.T) {
		now := time.Now()
		p.writeFile(t, p.interCRLFile, authntest.Must(p.inter.CRL(nil, authntest.CRLValidity(now.Add(-48*time.Hour), now.Add(-time.Hour)))))
		if err := trust.Reload(); err != nil {
			t.Fatal(err) // readable: the expiry is a request-time failure
		}
		technical(t, authn.ErrCRLExpired)
	})
	t.Run("fail/unreadable CRL", func(t *testing.T) {
		p.writeFile(t, p.interCRLFile, []byte("not a CRL"))
		if err := trust.Reload(); err == nil {
			t.Fatal("reload of a broken CRL succeeded")
		}
		technical(t, authn.ErrTrust)
	})
	t.Run("fail/CRL signed by another CA", func(t *testing.T) {
		forged := authntest.Must(authntest.NewCA(authntest.WithCommonName("Partner Issuing CA"), authntest.WithOrganization("Gatehouse test")))
		p.writeFile(t, p.interCRLFile, authntest.Must(forged.CRL(nil)))
		if err := trust.Reload(); err != nil {
			t.Fatal(err)
		}
		technical(t, authn.ErrTrust)
	})
	t.Run("ok/recovered, then revoked without restart", func(t *testing.T) {
		p.writeFile(t, p.interCRLFile, authntest.Must(p.inter.CRL(nil)))
		if err := trust.Reload(); err != nil {
			t.Fatal(err)
		}
		ok(t)
		p.writeFile(t, p.interCRLFile, authntest.Must(p.inter.CRL([]*authntest.Cert{p.valid}, authntest.CRLNumber(2))))
		if err := trust.Reload(); err != nil {
			t.Fatal(err)
		}
		_, err := m.Authenticate(certRequest(chainOf(p.valid)))
		if rej, isRej := authn.AsRejection(err); !isRej || rej.Reason != authn.ReasonRevoked {
			t.Fatalf("after the CRL revoked it: %v", err)
		}
	})
	t.Run("fail/intermediate revoked by the root's CRL", func(t *testing.T) {
		rootCRL := filepath.Join(p.dir, "root-revokes-inter.crl")
		interAsCert := &authntest.Cert{Certificate: p.inter.Certificate}
		p.writeFile(t, rootCRL, authntest.Must(p.root.CRLPEM([]*authntest.Cert{interAsCert})))
		cleanInter := filepath.Join(p.dir, "inter-clean.crl")
		p.writeFile(t, cleanInter, authntest.Must(p.inter.CRLPEM(nil)))
		tr := authntest.Must(authn.NewTrust("partners", []string{p.rootFile}, []string{rootCRL, cleanInter}))
		m := authntest.Must(authn.NewMTLS("cert", authn.MTLSConfig{Trust: tr}))
		// The same leaf passes while the root's CRL is clean.
		clean := authntest.Must(authn.NewTrust("partners", []string{p.rootFile}, []string{p.crlFile, cleanInter}))
		if _, err := authntest.Must(authn.NewMTLS("cert", authn.MTLSConfig{Trust: clean})).Authenticate(certRequest(chainOf(p.viaRoot))); err != nil {
			t.Fatalf("root-issued leaf with clean CRLs: %v", err)
		}
		if _, err := authntest.Must(authn.NewMTLS("cert", authn.MTLSConfig{Trust: clean})).Authenticate(certRequest(chainOf(p.inter2Leaf))); err != nil {
			t.Fatalf("leaf with clean CRLs: %v", err)
		}
		_, err := m.Authenticate(certRequest(chainOf(p.inter2Leaf)))
		if rej, isRej := authn.AsRejection(err); !isRej || rej.Reason != authn.ReasonRevoked {
			t.Fatalf("leaf under a revoked intermediate: %v", err)
		}
	})
	t.Run("fail/no CRL for the leaf's issuer", func(t *testing.T) {
		tr := authntest.Must(authn.NewTrust("partners", []string{p.rootFile}, []string{p.crlFile}))
		m := authntest.Must(authn.NewMTLS("cert", authn.MTLSConfig{Trust: tr}))
		_, err := m.Authenticate(certRequest(chainOf(p.valid)))
		if rej, isRej := authn.AsRejection(err); !isRej || rej.Reason != authn.ReasonUntrustedCertificate {
			t.Fatalf("err %v", err)
		}
		if _, err := m.Authenticate(certRequest(chainOf(p.viaRoot))); err != nil {
			t.Fatalf("root-issued certificate, root CRL configured: %v", err)
		}
	})
}

func TestTrustErrors(t *testing.T) {
	p := newTestPKI(t)
	leafFile, _, err := p.valid.WriteFiles(p.dir, "leaf")
	if err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(p.dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		ca, crls []string
	}{
		{"fail/no CA file", nil, nil},
		{"fail/missing CA file", []string{filepath.Join(p.dir, "missing.pem")}, nil},
		{"fail/CA file without a certificate", []string{garbage}, nil},
		{"fail/leaf certificate as CA", []string{leafFile}, nil},
		{"fail/CRL is not a CRL", []string{p.rootFile}, []string{garbage}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := authn.NewTrust("x", tc.ca, tc.crls); !errors.Is(err, authn.ErrTrust) {
				t.Fatalf("err %v, want ErrTrust", err)
			}
		})
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		p, s string
		want bool
	}{
		{"", "", true}, {"*", "", true}, {"*", "anything/at all", true},
		{"a*c", "abc", true}, {"a*c", "ac", true}, {"a*c", "abd", false},
		{"spiffe://x/*/api", "spiffe://x/ns/a/api", true}, {"*.example", "example", false},
		{"a**b", "ab", true}, {"*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
	}
	for _, tc := range tests {
		if got := authn.Glob(tc.p, tc.s); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}
