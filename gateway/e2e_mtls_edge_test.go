package gateway_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// doHost sends GET path with an explicit Host header.
func (e *env) doHost(c *http.Client, path, host string, h http.Header) response {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Host = host
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func TestMTLSSNIHostMismatch(t *testing.T) {
	t.Parallel()
	p := newMTLSPKI(t)
	e := mtlsEnv(t, p, mtlsConfig, nil)
	port := e.base[strings.LastIndex(e.base, ":"):]
	c := e.certClient(p.partner, "localhost")
	tests := []struct {
		name, path, host string
		status           int
	}{
		{"ok/SNI and Host agree", "/partners/cert", "localhost" + port, 200},
		{"ok/case and trailing dot", "/partners/cert", "LOCALHOST.", 200},
		{"ok/Host is an address", "/partners/cert", "127.0.0.1" + port, 200},
		{"fail/Host names another server", "/partners/cert", "partners.example", 421},
		{"fail/Host names another server, with port", "/partners/cert-or-token", "other.example" + port, 421},
		{"fail/mismatch on the vendors API", "/vendors/cert", "vendors.example", 421},
		{"ok/no certificate route: not checked", "/partners/token", "other.example", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.upstream.count()
			r := e.doHost(c, tc.path, tc.host, nil)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if e.upstream.count() != before+map[bool]int{true: 1}[tc.status == 200] {
				t.Fatal("upstream call count")
			}
		})
	}
}

func TestTLSOldVersionsRefused(t *testing.T) {
	t.Parallel()
	p := newMTLSPKI(t)
	e := mtlsEnv(t, p, mtlsConfig, nil)
	tests := []struct {
		name    string
		version uint16
		ok      bool
	}{
		{"fail/TLS 1.0", tls.VersionTLS10, false},
		{"fail/TLS 1.1", tls.VersionTLS11, false},
		{"ok/TLS 1.2", tls.VersionTLS12, true},
		{"ok/TLS 1.3", tls.VersionTLS13, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := e.certClient(p.partner, "")
			tr := c.Transport.(*http.Transport)
			tr.TLSClientConfig.MinVersion, tr.TLSClientConfig.MaxVersion = tc.version, tc.version
			resp, err := c.Get(e.base + "/partners/cert")
			if err == nil {
				resp.Body.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
		})
	}
}

// spoofed are client-written certificate headers; none may reach the
// upstream, nor authenticate.
func spoofed(p *mtlsPKI) http.Header {
	pemCert := url.PathEscape(string(p.partner.CertOnlyPEM()))
	return hdr(
		"X-Forwarded-Client-Cert", "Cert="+pemCert,
		"X-SSL-Client-Cert", pemCert,
		"Client-Cert", ":AAAA:",
		"X-Partner-Cert", pemCert,
	)
}

// Behind a TLS-terminating load balancer: the certificate comes from the
// balancer's header, only from trusted addresses (and, when configured, only
// over mTLS from the balancer); otherwise the header is dropped.
func TestMTLSForwardedCertificate(t *testing.T) {
	t.Parallel()
	p := newMTLSPKI(t)
	lbCA := authntest.Must(authntest.NewCA(authntest.WithCommonName("LB CA")))
	lb := authntest.Must(lbCA.Client("load-balancer"))
	xfcc := func(c *authntest.Cert) http.Header {
		return hdr("X-Forwarded-Client-Cert", `By=spiffe://lb;Cert="`+url.PathEscape(string(c.CertOnlyPEM()))+`";Chain="`+url.PathEscape(string(c.CertPEM()))+`"`)
	}
	pemHdr := func(c *authntest.Cert) http.Header {
		return hdr("X-Partner-Cert", url.QueryEscape(string(c.CertPEM())))
	}
	cfg := func(fc string) string { return mtlsConfig + "  forwarded_certificate: " + fc + "\n" }
	// mtlsConfig ends its mtls: section with upstream_header; forwarded_certificate joins it.
	trusted := mtlsEnv(t, p, cfg("{format: xfcc, trusted_proxies: [127.0.0.0/8, '::1']}"), nil)
	untrusted := mtlsEnv(t, p, cfg("{format: xfcc, trusted_proxies: [192.0.2.10]}"), nil)
	lbOnly := mtlsEnv(t, p, cfg("{format: pem, header: X-Partner-Cert, trusted_proxies: [127.0.0.1], proxy_ca_files: [lb-ca.pem]}"),
		map[string]string{"lb-ca.pem": string(lbCA.CertOnlyPEM())})

	tests := []struct {
		name   string
		e      *env
		conn   *authntest.Cert // the TLS peer's certificate (the balancer's, or the client's)
		path   string
		h      http.Header
		status int
	}{
		{"ok/trusted proxy forwards a partner certificate", trusted, nil, "/partners/cert", xfcc(p.partner), 200},
		{"fail/trusted proxy forwards an expired certificate", trusted, nil, "/partners/cert", xfcc(p.expired), 401},
		{"fail/trusted proxy forwards a vendor certificate to partners", trusted, nil, "/partners/cert", xfcc(p.vendor), 401},
		{"ok/per-API trust applies to forwarded certificates", trusted, nil, "/vendors/cert", xfcc(p.vendor), 200},
		{"fail/malformed header from a trusted proxy", trusted, nil, "/partners/cert", hdr("X-Forwarded-Client-Cert", `Cert="unterminated`), 401},
		{"fail/two headers from a trusted proxy", trusted, nil, "/partners/cert", http.Header{"X-Forwarded-Client-Cert": {xfcc(p.partner).Get("X-Forwarded-Client-Cert"), xfcc(p.partner).Get("X-Forwarded-Client-Cert")}}, 401},
		{"fail/the proxy's own TLS certificate is no client identity", trusted, p.partner, "/partners/cert", nil, 401},
		{"fail/untrusted peer: header ignored", untrusted, nil, "/partners/cert", xfcc(p.partner), 401},
		{"ok/untrusted peer: its TLS certificate counts", untrusted, p.partner, "/partners/cert", xfcc(p.vendor), 200},
		{"ok/balancer over mTLS forwards PEM", lbOnly, lb, "/partners/cert", pemHdr(p.partner), 200},
		{"fail/balancer without its certificate", lbOnly, nil, "/partners/cert", pemHdr(p.partner), 401},
		{"fail/balancer with a certificate of another CA", lbOnly, p.vendor, "/partners/cert", pemHdr(p.partner), 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.e.upstream.count()
			r := tc.e.doWith(tc.e.certClient(tc.conn, ""), "GET", tc.path, tc.h)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if called := tc.e.upstream.count() > before; called != (tc.status == 200) {
				t.Fatalf("upstream called: %v", called)
			}
			if tc.status == 200 {
				up := tc.e.upstream.last().Header
				if up.Get("X-Partner-Cert") != "" || strings.Contains(up.Get("X-Forwarded-Client-Cert"), "Cert=") {
					t.Fatalf("a forwarded certificate header reached the upstream: %v", up)
				}
				if !strings.HasPrefix(up.Get("X-Forwarded-Client-Cert"), "Hash=") {
					t.Fatalf("upstream XFCC %q, want the gateway's", up.Get("X-Forwarded-Client-Cert"))
				}
			}
		})
	}
}

// Client-written certificate headers never reach the upstream and never
// authenticate, whatever the configuration.
func TestMTLSSpoofedHeadersStripped(t *testing.T) {
	t.Parallel()
	p := newMTLSPKI(t)
	untrusted := mtlsEnv(t, p, mtlsConfig+"  forwarded_certificate: {format: pem, header: X-Partner-Cert, trusted_proxies: [192.0.2.10]}\n", nil)
	plain := mtlsEnv(t, p, mtlsConfig, nil)
	for name, e := range map[string]*env{"forwarding configured": untrusted, "no forwarding": plain} {
		t.Run(name, func(t *testing.T) {
			if r := e.doWith(e.certClient(nil, ""), "GET", "/partners/cert", spoofed(p)); r.status != 401 {
				t.Fatalf("spoofed certificate headers authenticated: %d", r.status)
			}
			r := e.doWith(e.certClient(nil, ""), "GET", "/partners/token", mergeHeaders(spoofed(p), bearer(e.token(nil))))
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			up := e.upstream.last().Header
			for _, h := range []string{"X-Forwarded-Client-Cert", "X-Ssl-Client-Cert", "Client-Cert"} {
				if v := up.Get(h); v != "" {
					t.Errorf("upstream got %s: %q", h, v)
				}
			}
			if name == "forwarding configured" && up.Get("X-Partner-Cert") != "" {
				t.Error("upstream got the configured forwarded-certificate header")
			}
		})
	}
}

func mergeHeaders(hs ...http.Header) http.Header {
	out := http.Header{}
	for _, h := range hs {
		for k, v := range h {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

// RFC 8705: a token bound to a certificate (cnf x5t#S256) is accepted only
// with that certificate, on the connection or from a trusted proxy.
func TestMTLSCertificateBoundToken(t *testing.T) {
	t.Parallel()
	p := newMTLSPKI(t)
	e := mtlsEnv(t, p, mtlsConfig, nil)
	lb := mtlsEnv(t, p, mtlsConfig+"  forwarded_certificate: {format: xfcc, header: X-Lb-Cert, trusted_proxies: [127.0.0.1]}\n", nil)
	bound := e.token(func(c map[string]any) { c["cnf"] = map[string]any{"x5t#S256": p.partner.Thumbprint()} })
	boundLB := lb.token(func(c map[string]any) { c["cnf"] = map[string]any{"x5t#S256": p.partner.Thumbprint()} })
	unbound := e.token(nil)
	selfSigned := authntest.Must(authntest.Must(authntest.NewCA()).Client("self"))
	boundSelf := e.token(func(c map[string]any) { c["cnf"] = map[string]any{"x5t#S256": selfSigned.Thumbprint()} })
	lbHdr := func(c *authntest.Cert) http.Header {
		return hdr("X-Lb-Cert", "Cert="+url.PathEscape(string(c.CertOnlyPEM())))
	}
	tests := []struct {
		name   string
		e      *env
		conn   *authntest.Cert
		h      http.Header
		tok    string
		status int
		bearer string // substring of WWW-Authenticate
	}{
		{"ok/bound token with its certificate", e, p.partner, nil, bound, 200, ""},
		{"fail/bound token with another certificate", e, p.vendor, nil, bound, 401, `error="invalid_token"`},
		{"fail/bound token without a certificate", e, nil, nil, bound, 401, `error="invalid_token"`},
		{"ok/unbound token, no certificate", e, nil, nil, unbound, 200, ""},
		{"ok/unbound token with a certificate", e, p.vendor, nil, unbound, 200, ""},
		// Binding needs possession (the handshake), not trust in the issuer.
		{"ok/bound to a self-signed certificate", e, selfSigned, nil, boundSelf, 200, ""},
		{"ok/bound certificate forwarded by the trusted balancer", lb, nil, lbHdr(p.partner), boundLB, 200, ""},
		{"fail/another certificate forwarded by the balancer", lb, nil, lbHdr(p.vendor), boundLB, 401, `error="invalid_token"`},
		{"fail/bound certificate on the balancer's own connection", lb, p.partner, nil, boundLB, 401, `error="invalid_token"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.e.doWith(tc.e.certClient(tc.conn, ""), "GET", "/partners/token", mergeHeaders(tc.h, bearer(tc.tok)))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.bearer != "" && !strings.Contains(strings.Join(r.header.Values("WWW-Authenticate"), ";"), tc.bearer) {
				t.Fatalf("WWW-Authenticate %q lacks %s", r.header.Values("WWW-Authenticate"), tc.bearer)
			}
		})
	}
	// The cert-and-token route: both credentials, and bound to each other.
	if r := e.doWith(e.certClient(p.partner, ""), "GET", "/partners/cert-and-token", bearer(bound)); r.status != 200 {
		t.Fatalf("cert-and-token, bound: %d", r.status)
	}
}

// Same principal: with data.gatehouse.config.same_principal the token and
// the certificate of one alternative must name the same caller.
func TestMTLSSamePrincipal(t *testing.T) {
	t.Parallel()
	p := newMTLSPKI(t)
	cfg := strings.Replace(mtlsConfig, "policy: {decision_timeout: 5s}", "policy: {decision_timeout: 5s, bundles: [bundle/]}", 1)
	e := mtlsEnv(t, p, cfg, map[string]string{
		"bundle/.manifest": `{"revision": "mtls-1", "roots": ["gatehouse/config"]}`,
		"bundle/data.json": `{"gatehouse": {"config": {"same_principal": {"partners": {"certificate": "application", "credential": "client_id"}}}}}`,
	})
	tests := []struct {
		name     string
		clientID string
		path     string
		status   int
	}{
		{"ok/token of the certificate's application", "partner-1", "/partners/cert-and-token", 200},
		{"fail/token of another client", "app-1", "/partners/cert-and-token", 403},
		{"ok/OR alternative: nothing to compare", "app-1", "/partners/cert-or-token", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := e.token(func(c map[string]any) { c["client_id"] = tc.clientID })
			r := e.doWith(e.certClient(p.partner, ""), "GET", tc.path, bearer(tok))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
		})
	}
}
