package gateway_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// servedSerial opens a new TLS connection and returns the serial of the
// server certificate it gets.
func (e *env) servedSerial() string {
	e.t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(e.ca.Certificate)
	c, err := tls.Dial("tcp", strings.TrimPrefix(e.base, "https://"), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// The server certificate is replaced on disk several times while requests
// run on new and on kept-alive connections: no request fails, and new
// connections get the new certificate without a restart or SIGHUP.
func TestServerCertificateRotationUnderLoad(t *testing.T) {
	p := newMTLSPKI(t)
	e := mtlsEnv(t, p, mtlsConfig, nil)
	keepAlive := e.certClient(p.partner, "")
	fresh := e.certClient(p.partner, "")
	fresh.Transport.(*http.Transport).DisableKeepAlives = true

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := underLoad(4, func(worker int) {
		c := keepAlive
		if worker%2 == 1 {
			c = fresh
		}
		resp, err := c.Get(e.base + "/partners/cert")
		if err == nil {
			resp.Body.Close()
		}
		if err != nil || resp.StatusCode != 200 {
			failed.Add(1)
			if err != nil {
				firstErr.CompareAndSwap(nil, err.Error())
			}
			return
		}
		ok.Add(1)
	})
	for range 3 {
		before := ok.Load()
		next := authntest.Must(e.ca.Server("localhost", "127.0.0.1"))
		keyPEM := authntest.Must(next.KeyPEM())
		// Key first, then certificate, as a deployment would: the watcher
		// reads them together after events stop.
		if err := authntest.WriteAtomically(filepath.Join(e.dir, "server-key.pem"), keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := authntest.WriteAtomically(filepath.Join(e.dir, "server.pem"), next.CertPEM(), 0o644); err != nil {
			t.Fatal(err)
		}
		want := next.Certificate.SerialNumber.String()
		eventually(t, "the new server certificate", func() bool { return e.servedSerial() == want })
		eventually(t, "requests after the rotation", func() bool { return ok.Load() > before+10 })
	}
	stop()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d requests failed during rotation (first: %v)", failed.Load(), failed.Load()+ok.Load(), firstErr.Load())
	}
	if m := get(t, e.admin+"/metrics"); !strings.Contains(m, `gatehouse_tls_reloads_total{kind="server_certificate",result="success"}`) {
		t.Error("metrics do not count the server certificate reloads")
	}
}

// CA bundles and CRLs reload with the generation: a CRL that starts
// revoking a certificate takes effect without a restart, a new CA bundle
// changes trust, and a CRL or CA file that does not parse fails the reload
// and keeps the previous trust serving (shown on /readyz) — it does not
// take its API's traffic down.
func TestClientTrustHotReload(t *testing.T) {
	p := newMTLSPKI(t)
	e := mtlsEnv(t, p, mtlsConfig, nil)
	status := func(c *authntest.Cert, path string) func() int {
		client := e.certClient(c, "")
		return func() int {
			resp, err := client.Get(e.base + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
	}
	partner, vendorOnVendors := status(p.partner, "/partners/cert"), status(p.vendor, "/vendors/cert")
	if partner() != 200 || vendorOnVendors() != 200 {
		t.Fatal("baseline")
	}
	crl := filepath.Join(e.dir, "partner-inter.crl")
	write := func(path string, b []byte) {
		if err := authntest.WriteAtomically(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	failedReload := func(what string) {
		t.Helper()
		eventually(t, what+" to fail the reload", func() bool {
			r := e.readyz()
			return !r.LastReload.OK && strings.Contains(r.LastReload.Error, "client certificate trust")
		})
	}

	write(crl, authntest.Must(p.partnerInter.CRLPEM([]*authntest.Cert{p.revoked, p.partner}, authntest.CRLNumber(2))))
	eventually(t, "the CRL to revoke partner-1", func() bool { return partner() == 401 })

	write(crl, []byte("garbage"))
	failedReload("a broken CRL")
	if got := partner(); got != 401 {
		t.Fatalf("after a broken CRL, partner-1 got %d; want 401 from the previous CRL, still serving", got)
	}
	if body := get(t, e.admin+"/readyz"); !strings.Contains(body, `"status":"degraded"`) {
		t.Errorf("readyz does not report the failed reload: %s", body)
	}
	if vendorOnVendors() != 200 {
		t.Fatal("another API's trust was affected")
	}

	write(crl, authntest.Must(p.partnerInter.CRLPEM(nil, authntest.CRLNumber(3))))
	eventually(t, "recovery", func() bool { return partner() == 200 })

	// A vendor CA file that does not parse keeps the old vendor trust.
	write(filepath.Join(e.dir, "vendor-ca.pem"), []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"))
	failedReload("a broken CA bundle")
	if got := vendorOnVendors(); got != 200 {
		t.Fatalf("after a broken CA bundle, vendor-1 got %d; want 200 from the previous trust", got)
	}

	// Replace the vendors CA: the old vendor certificate stops working.
	newVendorCA := authntest.Must(authntest.NewCA(authntest.WithCommonName("Vendor Root 2")))
	write(filepath.Join(e.dir, "vendor-ca.pem"), newVendorCA.CertOnlyPEM())
	eventually(t, "the new vendor CA", func() bool { return vendorOnVendors() == 401 })
	if status(authntest.Must(newVendorCA.Client("vendor-2")), "/vendors/cert")() != 200 {
		t.Fatal("a certificate of the new vendor CA is refused")
	}
	if m := get(t, e.admin+"/metrics"); !strings.Contains(m, `gatehouse_tls_reloads_total{kind="client_trust",result="success"}`) {
		t.Error("metrics do not count the client trust changes")
	}
}

// A reload that fails keeps the server certificate of the generation that
// serves: a new certificate on disk next to a config that does not build
// is not handed to new handshakes until the whole generation builds.
func TestFailedReloadKeepsServerCertificate(t *testing.T) {
	p := newMTLSPKI(t)
	e := mtlsEnv(t, p, mtlsConfig, nil)
	before := e.servedSerial()
	good := e.repl.Replace(mtlsConfig)

	// The config breaks first, so no reload in between can build.
	e.replace("gatehouse.yaml", good+"unknown_key: true\n")
	next := authntest.Must(e.ca.Server("localhost", "127.0.0.1"))
	if err := authntest.WriteAtomically(filepath.Join(e.dir, "server-key.pem"), authntest.Must(next.KeyPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := authntest.WriteAtomically(filepath.Join(e.dir, "server.pem"), next.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Reload(t.Context()); err == nil {
		t.Fatal("a reload of a config with an unknown key succeeded")
	}
	if got := e.servedSerial(); got != before {
		t.Fatalf("after a failed reload the server certificate changed to %s; want %s", got, before)
	}
	if partner := e.certClient(p.partner, ""); func() int {
		resp, err := partner.Get(e.base + "/partners/cert")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}() != 200 {
		t.Fatal("the previous generation stopped serving")
	}

	e.replace("gatehouse.yaml", good)
	if err := e.srv.Reload(t.Context()); err != nil {
		t.Fatalf("reload of the fixed config: %v", err)
	}
	if got, want := e.servedSerial(), next.Certificate.SerialNumber.String(); got != want {
		t.Fatalf("after a good reload the server certificate is %s; want the new %s", got, want)
	}
}
