package authntest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

func TestPKIMutualTLSThroughIntermediate(t *testing.T) {
	root := authntest.Must(authntest.NewCA())
	inter := authntest.Must(root.Intermediate())
	srv := authntest.Must(inter.Server())
	cli := authntest.Must(inter.Client("alice", authntest.WithURIs("spiffe://example.org/alice")))

	if got := srv.Certificate.DNSNames; len(got) != 1 || got[0] != "localhost" || len(srv.Certificate.IPAddresses) != 2 {
		t.Fatalf("server SANs: %v %v", got, srv.Certificate.IPAddresses)
	}
	if len(srv.Chain) != 1 || srv.Chain[0] != inter.Certificate {
		t.Fatal("leaf chain must hold the intermediate")
	}
	if inter.Root() != root || inter.Parent() != root || root.Parent() != nil {
		t.Fatal("CA chain links")
	}

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{srv.TLS()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    root.Pool(),
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			peer <- err.Error()
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			peer <- err.Error()
			return
		}
		peer <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
		RootCAs: inter.RootPool(), ServerName: "localhost",
		Certificates: []tls.Certificate{cli.TLS()}, MinVersion: tls.VersionTLS12,
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if err := conn.Handshake(); err != nil {
		t.Fatal(err)
	}
	if got := <-peer; got != "alice" {
		t.Fatalf("server saw %q", got)
	}
}

func TestPKIOptions(t *testing.T) {
	root := authntest.Must(authntest.NewCA())
	verify := func(c *authntest.Cert, eku x509.ExtKeyUsage) error {
		inter := x509.NewCertPool()
		for _, ic := range c.Chain {
			inter.AddCert(ic)
		}
		_, err := c.Certificate.Verify(x509.VerifyOptions{Roots: root.Pool(), Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{eku}})
		return err
	}
	tests := []struct {
		name string
		cert *authntest.Cert
		eku  x509.ExtKeyUsage
		ok   bool
	}{
		{"ok/client", authntest.Must(root.Client("c")), x509.ExtKeyUsageClientAuth, true},
		{"ok/server-ipv6", authntest.Must(root.Server("::1")), x509.ExtKeyUsageServerAuth, true},
		{"fail/expired", authntest.Must(root.Client("c", authntest.Expired())), x509.ExtKeyUsageClientAuth, false},
		{"fail/not-yet-valid", authntest.Must(root.Client("c", authntest.NotYetValid())), x509.ExtKeyUsageClientAuth, false},
		{"fail/server-eku-as-client", authntest.Must(root.ServerWith(nil)), x509.ExtKeyUsageClientAuth, false},
		{"fail/client-eku-as-server", authntest.Must(root.Client("c", authntest.WithEKU(x509.ExtKeyUsageServerAuth))), x509.ExtKeyUsageClientAuth, false},
		{"fail/expired-intermediate", authntest.Must(authntest.Must(root.Intermediate(authntest.Expired())).Client("c")), x509.ExtKeyUsageClientAuth, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := verify(tc.cert, tc.eku); (err == nil) != tc.ok {
				t.Fatalf("verify: %v", err)
			}
		})
	}
	for kt, want := range map[authntest.KeyType]func(any) bool{
		authntest.ECDSAP256: func(k any) bool { _, ok := k.(*ecdsa.PublicKey); return ok },
		authntest.RSA2048:   func(k any) bool { p, ok := k.(*rsa.PublicKey); return ok && p.N.BitLen() == 2048 },
		authntest.RSA3072:   func(k any) bool { p, ok := k.(*rsa.PublicKey); return ok && p.N.BitLen() == 3072 },
		authntest.Ed25519:   func(k any) bool { _, ok := k.(ed25519.PublicKey); return ok },
	} {
		c := authntest.Must(root.Client("k", authntest.WithKeyType(kt)))
		if !want(c.Certificate.PublicKey) {
			t.Errorf("%s: key %T", kt, c.Certificate.PublicKey)
		}
	}
	leaf := authntest.Must(root.Issue(authntest.WithIsCA(true), authntest.WithCommonName("x"), authntest.WithEmails("a@example.org")))
	if !leaf.Certificate.IsCA || leaf.Certificate.Subject.CommonName != "x" || leaf.Certificate.EmailAddresses[0] != "a@example.org" {
		t.Fatal("Issue options")
	}
	if _, err := root.Client("x", authntest.WithURIs("%zz")); err == nil {
		t.Fatal("bad URI: want an error")
	}
	if _, err := authntest.GenerateKey("dsa"); err == nil {
		t.Fatal("unknown key type: want an error")
	}
}

func TestPKIWriteFiles(t *testing.T) {
	ca := authntest.Must(authntest.NewCA())
	inter := authntest.Must(ca.Intermediate())
	srv := authntest.Must(inter.Server("gw.example"))
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "gw-key.pem")
	if err := os.WriteFile(keyPath, nil, 0o644); err != nil { // pre-existing, too open
		t.Fatal(err)
	}
	certFile, keyFile, err := srv.WriteFiles(dir, "gw")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(keyFile)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", st.Mode().Perm())
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(pair.Certificate) != 2 {
		t.Fatalf("cert file holds %d certificates, want leaf + intermediate", len(pair.Certificate))
	}
	if !strings.HasPrefix(string(authntest.Must(srv.PublicKeyPEM())), "-----BEGIN PUBLIC KEY-----") || len(srv.Thumbprint()) != 43 {
		t.Fatal("PEM / thumbprint helpers")
	}
}

// Tokens minted by authntest verify with jwx's own verifier: the helpers
// produce standard JWS, not something only our verifier accepts.
func TestSignerMintsStandardJWS(t *testing.T) {
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"} {
		t.Run(alg, func(t *testing.T) {
			s := authntest.Must(authntest.NewSigner(alg))
			tok := authntest.Must(s.Mint(map[string]any{"sub": "x"}, authntest.WithTyp("at+jwt"), authntest.WithHeader("x-custom", 1)))
			a := jwa.SignatureAlgorithm(alg)
			var pub any = s.Public()
			if s.Secret() != nil {
				pub = s.Secret()
			}
			var msg jws.Message
			payload, err := jws.Verify([]byte(tok), jws.WithKey(a, pub), jws.WithMessage(&msg))
			if err != nil {
				t.Fatalf("jws.Verify: %v", err)
			}
			if string(payload) != `{"sub":"x"}` {
				t.Fatalf("payload %s", payload)
			}
			h := msg.Signatures()[0].ProtectedHeaders()
			if kid := h.KeyID(); kid != s.KID() {
				t.Fatalf("kid %q", kid)
			}
			if typ := h.Type(); typ != "at+jwt" {
				t.Fatalf("typ %q", typ)
			}
			if _, err := jws.Verify([]byte(authntest.TamperSignature(tok)), jws.WithKey(a, pub)); err == nil {
				t.Fatal("tampered token verified")
			}
			if s.Secret() == nil {
				if _, err := s.PrivateJWK(); err != nil {
					t.Fatal(err)
				}
				set, err := jwk.Parse(authntest.Must(authntest.JWKS(s)))
				if err != nil || set.Len() != 1 {
					t.Fatalf("JWKS: %v", err)
				}
			}
		})
	}
	if _, err := authntest.NewSigner("none"); err == nil {
		t.Fatal("alg none: want an error")
	}
}

func TestHostileBuilders(t *testing.T) {
	rs := authntest.Must(authntest.NewSigner("RS256"))
	c := map[string]any{"iss": "x"}
	if tok := authntest.Unsigned(c); !strings.HasSuffix(tok, ".") || strings.Count(tok, ".") != 2 {
		t.Fatalf("Unsigned: %s", tok)
	}
	conf := authntest.Must(authntest.HMACWithPublicKey(rs, c))
	pemKey := authntest.Must(rs.PublicKeyPEM())
	if _, err := jws.Verify([]byte(conf), jws.WithKey(jwa.HS256, pemKey)); err != nil {
		t.Fatalf("key-confusion token is not HS256 over the PEM: %v", err)
	}
	if n := len(authntest.Huge(20000)); n != 20000 {
		t.Fatalf("Huge length %d", n)
	}
	if strings.Count(authntest.FakeJWE(), ".") != 4 || authntest.AllDots(3) != "..." {
		t.Fatal("shapes")
	}
	tok := authntest.Must(rs.Mint(c))
	if tp := authntest.TamperPayload(tok, map[string]any{"iss": "y"}); strings.Split(tp, ".")[2] != strings.Split(tok, ".")[2] {
		t.Fatal("TamperPayload must keep the signature")
	}
	raw := authntest.RawToken(map[string]any{"alg": "RS256"}, c, []byte("sig"))
	if strings.Count(raw, ".") != 2 {
		t.Fatal("RawToken")
	}
	ht := string(authntest.Must(authntest.Htpasswd(map[string]string{"b": "2", "a": "1"}, 0)))
	if !strings.HasPrefix(ht, "a:$2y$04$") || !strings.Contains(ht, "\nb:$2y$04$") {
		t.Fatalf("Htpasswd: %s", ht)
	}
}

func get(t *testing.T, c *http.Client, url string) (int, []byte, http.Header, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

func TestIssuerServer(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		name := "plain"
		var opts []authntest.IssuerOption
		if useTLS {
			name = "tls"
			opts = append(opts, authntest.WithTLS())
		}
		t.Run(name, func(t *testing.T) {
			is := authntest.NewIssuer(t, append(opts, authntest.WithAlg("ES256"))...)
			c := is.Client()
			if useTLS != strings.HasPrefix(is.URL(), "https://") || (is.CertPool() != nil) != useTLS {
				t.Fatal("scheme")
			}
			code, body, _, err := get(t, c, is.DiscoveryURL())
			if err != nil || code != 200 {
				t.Fatalf("discovery: %d %v", code, err)
			}
			var disc map[string]any
			if err := json.Unmarshal(body, &disc); err != nil || disc["issuer"] != is.Issuer() || disc["jwks_uri"] != is.JWKSURL() {
				t.Fatalf("discovery doc: %s", body)
			}
			code, body, _, _ = get(t, c, is.JWKSURL())
			set, err := jwk.Parse(body)
			if code != 200 || err != nil || set.Len() != 1 {
				t.Fatalf("jwks: %d %v", code, err)
			}
			if is.JWKSFetches() != 1 || is.DiscoveryFetches() != 1 || is.Fetches() != 2 {
				t.Fatalf("counts %d %d %d", is.JWKSFetches(), is.DiscoveryFetches(), is.Fetches())
			}

			// Rotation with overlap, then without.
			old := is.Signer()
			next := authntest.Must(is.Rotate("", true))
			if is.Signer() != next || len(is.Signers()) != 2 || next.Alg() != "ES256" {
				t.Fatal("rotate keep")
			}
			tok := authntest.Must(is.Mint(map[string]any{"sub": "x"}))
			if !strings.Contains(tok, ".") || old == next {
				t.Fatal("mint after rotation")
			}
			authntest.Must(is.Rotate("EdDSA", false))
			if len(is.Signers()) != 1 {
				t.Fatal("rotate drop")
			}
			is.SetSigners(old)
			if is.Signer() != old {
				t.Fatal("SetSigners")
			}

			is.SetCacheControl("max-age=600")
			if _, _, h, _ := get(t, c, is.JWKSURL()); h.Get("Cache-Control") != "max-age=600" {
				t.Fatal("Cache-Control")
			}
			for mode, check := range map[authntest.Mode]func(code int, body []byte, err error) bool{
				authntest.ServeUnavailable: func(code int, _ []byte, err error) bool { return err == nil && code == 503 },
				authntest.ServeGarbage:     func(code int, b []byte, err error) bool { return code == 200 && !json.Valid(b) },
				authntest.ServeEmpty:       func(code int, b []byte, err error) bool { return code == 200 && len(b) == 0 },
				authntest.ServeHuge:        func(code int, b []byte, err error) bool { return code == 200 && len(b) > authntest.HugeBodySize },
				authntest.ServeNoKeys:      func(code int, b []byte, err error) bool { return code == 200 && string(b) == `{"keys":[]}` },
				authntest.ServeClose:       func(_ int, _ []byte, err error) bool { return err != nil },
			} {
				is.SetMode(mode)
				code, body, _, err := get(t, c, is.JWKSURL())
				if !check(code, body, err) {
					t.Errorf("mode %d: code %d, %d bytes, err %v", mode, code, len(body), err)
				}
			}
			is.SetMode(authntest.ServeOK)

			// The delay is far past the client's deadline: on a loaded 2-core
			// machine under -race a 1 s delay was once outlived by the 50 ms
			// deadline's own scheduling. The handler returns when the client
			// gives up, so the long delay costs nothing.
			is.SetDelay(10 * time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", is.JWKSURL(), nil)
			if resp, err := c.Do(req); err == nil {
				resp.Body.Close()
				t.Fatalf("delay not applied: %s", resp.Status)
			}
			is.SetDelay(0)

			is.ResetCounts()
			if code, _, _, _ := get(t, c, is.URL()+"/other"); code != 404 || is.Fetches() != 1 || is.JWKSFetches() != 0 {
				t.Fatal("other paths")
			}
			is.Close()
			if _, _, _, err := get(t, c, is.JWKSURL()); err == nil {
				t.Fatal("closed server answered")
			}
		})
	}
}

func TestIssuerOptions(t *testing.T) {
	ca := authntest.Must(authntest.NewCA())
	s := authntest.Must(authntest.NewSigner("PS256", authntest.WithKID("fixed")))
	is := authntest.NewIssuer(t, authntest.WithTLSCA(ca), authntest.WithSigners(s), authntest.WithIssuerID("https://idp.example/"))
	if is.CA() != ca || is.Issuer() != "https://idp.example/" || is.Signer() != s {
		t.Fatal("options")
	}
	tok := authntest.Must(is.Mint(map[string]any{"sub": "x"}))
	payload, err := jws.Verify([]byte(tok), jws.WithKey(jwa.PS256, s.Public()))
	if err != nil || !strings.Contains(string(payload), `"iss":"https://idp.example/"`) {
		t.Fatalf("mint sets iss: %s %v", payload, err)
	}
	// Multi-issuer: independent servers, keys and counters.
	other := authntest.NewIssuer(t)
	if other.URL() == is.URL() || other.Signer() == is.Signer() {
		t.Fatal("issuers share state")
	}
	if _, err := net.Dial("tcp", strings.TrimPrefix(other.URL(), "http://")); err != nil {
		t.Fatal(err)
	}
}
