package authn_test

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

func TestParseXFCC(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		n       int
		subject string
		uris    int
		err     bool
	}{
		{name: "ok/envoy example", in: `By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=spiffe://lyft.com/test-team`, n: 1, subject: "/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client", uris: 1},
		{name: "ok/two elements", in: `By=a;Hash=01,By=b;Hash=02`, n: 2},
		{name: "ok/keys are case-insensitive", in: `subject="CN=a,O=b";uri=x;URI=y`, n: 1, subject: "CN=a,O=b", uris: 2},
		{name: "ok/escaped quote", in: `Subject="CN=\"q\""`, n: 1, subject: `CN="q"`},
		{name: "ok/unknown key ignored", in: `Future=1;Hash=ab`, n: 1},
		{name: "fail/empty", in: ``, err: true},
		{name: "fail/no equals", in: `Hash`, err: true},
		{name: "fail/empty key", in: `=x`, err: true},
		{name: "fail/unterminated quote", in: `Subject="CN=a`, err: true},
		{name: "fail/garbage after quote", in: `Subject="a"b;Hash=1`, err: true},
		{name: "ok/unquoted equals tolerated", in: `Subject=CN=a`, n: 1, subject: "CN=a"},
		{name: "fail/unquoted quote", in: `Subject=CN"a`, err: true},
		{name: "fail/duplicate Hash", in: `Hash=1;Hash=2`, err: true},
		{name: "fail/trailing separator", in: `Hash=1;`, err: true},
		{name: "fail/bad URL encoding", in: `Cert=%zz`, err: true},
		{name: "fail/too many elements", in: strings.Repeat("Hash=1,", 8) + "Hash=1", err: true},
		{name: "fail/too long", in: "Hash=" + strings.Repeat("a", authn.MaxForwardedCertHeader), err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			els, err := authn.ParseXFCC(tc.in)
			if tc.err {
				if err == nil || !errors.Is(err, authn.ErrForwardedCert) {
					t.Fatalf("err %v, want ErrForwardedCert", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(els) != tc.n || els[0].Subject != tc.subject || len(els[0].URI) != tc.uris {
				t.Fatalf("got %+v", els)
			}
		})
	}
}

func TestForwardedCertificates(t *testing.T) {
	p := newTestPKI(t)
	leafPEM := string(p.valid.CertOnlyPEM())
	chainPEM := string(p.valid.CertPEM())
	fp := authn.DescribeCertificate(p.valid.Certificate).FingerprintSHA256
	esc := url.PathEscape
	der := base64.StdEncoding.EncodeToString(p.valid.Certificate.Raw)
	inter := base64.StdEncoding.EncodeToString(p.inter.Certificate.Raw)
	tests := []struct {
		name   string
		format string
		in     string
		chain  string // for rfc9440
		n      int
	}{
		{name: "ok/xfcc cert", format: "xfcc", in: "Hash=" + fp + ";Cert=" + `"` + esc(leafPEM) + `"`, n: 1},
		{name: "ok/xfcc cert and chain", format: "xfcc", in: "Cert=" + esc(leafPEM) + ";Chain=" + esc(chainPEM), n: 2},
		{name: "fail/xfcc hash mismatch", format: "xfcc", in: "Hash=" + strings.Repeat("0", 64) + ";Cert=" + esc(leafPEM)},
		{name: "fail/xfcc without cert", format: "xfcc", in: "Hash=" + fp},
		{name: "fail/xfcc two elements", format: "xfcc", in: "Cert=" + esc(leafPEM) + ",Cert=" + esc(leafPEM)},
		{name: "fail/xfcc cert holds two", format: "xfcc", in: "Cert=" + esc(chainPEM)},
		{name: "ok/pem url-encoded", format: "pem", in: esc(leafPEM), n: 1},
		{name: "ok/pem url-encoded with chain", format: "pem", in: url.QueryEscape(chainPEM), n: 2},
		{name: "ok/pem newlines as spaces", format: "pem", in: strings.ReplaceAll(leafPEM, "\n", " "), n: 1},
		{name: "ok/pem nginx tabs", format: "pem", in: strings.ReplaceAll(strings.TrimSpace(leafPEM), "\n", "\n\t"), n: 1},
		{name: "fail/pem garbage", format: "pem", in: "hello"},
		{name: "fail/pem trailing garbage", format: "pem", in: esc(leafPEM + "x")},
		{name: "fail/pem no end", format: "pem", in: esc(strings.Split(leafPEM, "-----END")[0])},
		{name: "fail/pem bad base64", format: "pem", in: "-----BEGIN CERTIFICATE-----!!-----END CERTIFICATE-----"},
		{name: "fail/pem not a certificate", format: "pem", in: "-----BEGIN CERTIFICATE-----aGVsbG8=-----END CERTIFICATE-----"},
		{name: "ok/rfc9440", format: "rfc9440", in: ":" + der + ":", n: 1},
		{name: "ok/rfc9440 with chain", format: "rfc9440", in: ":" + der + ":", chain: ":" + der + ":, :" + inter + ":", n: 3},
		{name: "fail/rfc9440 not a byte sequence", format: "rfc9440", in: der},
		{name: "fail/rfc9440 bad chain", format: "rfc9440", in: ":" + der + ":", chain: "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n int
			var err error
			switch tc.format {
			case "xfcc":
				c, e := authn.CertificatesFromXFCC(tc.in)
				n, err = len(c), e
			case "pem":
				c, e := authn.CertificatesFromPEMHeader(tc.in)
				n, err = len(c), e
			case "rfc9440":
				c, e := authn.CertificatesFromRFC9440(tc.in, tc.chain)
				n, err = len(c), e
			}
			if tc.n == 0 {
				if err == nil || !errors.Is(err, authn.ErrForwardedCert) {
					t.Fatalf("err %v, want ErrForwardedCert", err)
				}
				return
			}
			if err != nil || n != tc.n {
				t.Fatalf("n=%d err=%v, want %d certificates", n, err, tc.n)
			}
		})
	}
}

func TestFormatXFCCRoundTrip(t *testing.T) {
	p := newTestPKI(t)
	weird := authntest.Must(p.inter.Client(`a,b;c="d"`, authntest.WithURIs("spiffe://x/y")))
	for _, c := range []*authntest.Cert{p.valid, weird} {
		d := authn.DescribeCertificate(c.Certificate)
		els, err := authn.ParseXFCC(authn.FormatXFCC(d))
		if err != nil {
			t.Fatalf("%s: %v", authn.FormatXFCC(d), err)
		}
		if len(els) != 1 || els[0].Subject != d.Subject || els[0].Hash != d.FingerprintSHA256 || len(els[0].URI) != len(d.URIs) {
			t.Fatalf("round trip of %q: %+v", authn.FormatXFCC(d), els)
		}
	}
}
