package authn_test

import (
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

// A fixed certificate for the seeds (generated per run; seeds need not be
// stable across runs, crashers are kept in testdata/fuzz).
func fuzzCertPEM(f *testing.F) string {
	ca := authntest.Must(authntest.NewCA())
	return string(authntest.Must(ca.Client("fuzz")).CertOnlyPEM())
}

func FuzzXFCC(f *testing.F) {
	pemCert := fuzzCertPEM(f)
	for _, s := range []string{
		`By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/C=US/CN=Test Client";URI=spiffe://lyft.com/test-team`,
		`By=a;Hash=01,By=b;Hash=02`,
		`Subject="CN=\"q\"";DNS=a;DNS=b`,
		`Cert="` + url.PathEscape(pemCert) + `"`,
		`Cert=` + url.PathEscape(pemCert) + `;Chain=` + url.PathEscape(pemCert),
		`Subject="unterminated`, `=`, `a=b;`, `a=b,,c=d`, `Cert=%zz`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		els, err := authn.ParseXFCC(v)
		if err == nil && len(els) == 0 {
			t.Fatal("no error and no element")
		}
		certs, err := authn.CertificatesFromXFCC(v)
		if err == nil && (len(certs) == 0 || len(certs) > authn.MaxForwardedChain) {
			t.Fatalf("%d certificates without error", len(certs))
		}
	})
}

func FuzzPEMHeader(f *testing.F) {
	pemCert := fuzzCertPEM(f)
	for _, s := range []string{
		url.PathEscape(pemCert), url.QueryEscape(pemCert + pemCert), pemCert,
		"-----BEGIN CERTIFICATE-----\n\tAAAA\n\t-----END CERTIFICATE-----",
		"-----BEGIN CERTIFICATE-----", "%", "%2", "hello", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		certs, err := authn.CertificatesFromPEMHeader(v)
		if err == nil && (len(certs) == 0 || len(certs) > authn.MaxForwardedChain) {
			t.Fatalf("%d certificates without error", len(certs))
		}
	})
}

func FuzzRFC9440(f *testing.F) {
	ca := authntest.Must(authntest.NewCA())
	der := authntest.Must(ca.Client("fuzz")).Certificate.Raw
	b64 := func(b []byte) string { return ":" + base64Std(b) + ":" }
	f.Add(b64(der), "")
	f.Add(b64(der), b64(der)+", "+b64(ca.Certificate.Raw))
	f.Add("::", ",")
	f.Add(":", "")
	f.Fuzz(func(t *testing.T, cert, chain string) {
		certs, err := authn.CertificatesFromRFC9440(cert, chain)
		if err == nil && (len(certs) == 0 || len(certs) > authn.MaxForwardedChain) {
			t.Fatalf("%d certificates without error", len(certs))
		}
	})
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
