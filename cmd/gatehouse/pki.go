package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// pkiCmd generates development material: a root CA, a server certificate
// for localhost, a client certificate, a demo JWT issuer key with its JWKS,
// and demo tokens. Private keys are written 0600 into a folder that is
// git-ignored; nothing here is for production.
func pkiCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pki", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", ".dev/pki", "output folder")
	hosts := fs.String("hosts", "localhost,127.0.0.1,::1", "server certificate names, comma-separated")
	iss := fs.String("issuer", "https://issuer.gatehouse.local/", "demo JWT issuer (iss)")
	aud := fs.String("audience", "petstore", "audience of the demo tokens")
	ttl := fs.Duration("token-ttl", 24*time.Hour, "lifetime of the demo tokens")
	if code, stop := parseFlags(fs, args, stdout, stderr); stop {
		return code
	}
	if err := writePKI(*out, strings.FieldsFunc(*hosts, func(r rune) bool { return r == ',' }), *iss, *aud, *ttl); err != nil {
		fmt.Fprintf(stderr, "gatehouse pki: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote development PKI, issuer keys and demo tokens to %s\n", *out)
	return 0
}

func writePKI(dir string, hosts []string, iss, aud string, ttl time.Duration) error {
	if err := os.MkdirAll(filepath.Join(dir, "tokens"), 0o700); err != nil {
		return err
	}
	ca, err := authntest.NewCA(authntest.WithCommonName("Gatehouse Dev Root CA"))
	if err != nil {
		return err
	}
	if _, _, err := ca.Cert.WriteFiles(dir, "ca"); err != nil {
		return err
	}
	srv, err := ca.Server(hosts...)
	if err != nil {
		return err
	}
	if _, _, err := srv.WriteFiles(dir, "server"); err != nil {
		return err
	}
	cli, err := ca.Client("demo-client")
	if err != nil {
		return err
	}
	if _, _, err := cli.WriteFiles(dir, "client"); err != nil {
		return err
	}

	signer, err := authntest.NewSigner("ES256", authntest.WithKID("demo-1"))
	if err != nil {
		return err
	}
	jwks, err := authntest.JWKS(signer)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "issuer-jwks.json"), jwks, 0o644); err != nil {
		return err
	}
	keyPEM, err := authntest.PrivateKeyPEM(signer.Private())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "issuer-key.pem"), keyPEM, 0o600); err != nil {
		return err
	}
	// The API key token service's signing key (api_keys.signing_key_file).
	stsKey, err := authntest.GenerateKey(authntest.ECDSAP256)
	if err != nil {
		return err
	}
	if stsPEM, err := authntest.PrivateKeyPEM(stsKey); err != nil {
		return err
	} else if err := os.WriteFile(filepath.Join(dir, "apikeys-key.pem"), stsPEM, 0o600); err != nil {
		return err
	}

	now := time.Now()
	tokens := map[string]func(c map[string]any){
		"read":    func(c map[string]any) { c["scope"] = "read:pets" },
		"write":   func(c map[string]any) { c["scope"] = "read:pets write:pets" },
		"noscope": func(c map[string]any) { delete(c, "scope") },
		"expired": func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		},
		"wrongaud": func(c map[string]any) { c["aud"] = "another-api"; c["scope"] = "read:pets" },
		"revoked":  func(c map[string]any) { c["jti"] = "revoked-demo-token"; c["scope"] = "read:pets" },
	}
	for name, edit := range tokens {
		c := authntest.Claims(iss, aud, now, ttl)
		c["sub"] = "demo-user"
		c["client_id"] = "demo-app"
		edit(c)
		tok, err := signer.Mint(c)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "tokens", name+".jwt"), []byte(tok), 0o600); err != nil {
			return err
		}
	}
	return nil
}
