package apikeys_test

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/apikeys"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadSigningKey(t *testing.T) {
	dir := t.TempDir()
	ec := authntest.Must(authntest.GenerateKey(authntest.ECDSAP256))
	rs := authntest.Must(authntest.GenerateKey(authntest.RSA2048))
	sec1, _ := x509.MarshalECPrivateKey(ec.(*ecdsa.PrivateKey))
	pkcs1 := x509.MarshalPKCS1PrivateKey(rs.(*rsa.PrivateKey))
	tests := []struct {
		name string
		data []byte
		err  string
	}{
		{"ok/pkcs8", authntest.Must(authntest.PrivateKeyPEM(ec)), ""},
		{"ok/sec1", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), ""},
		{"ok/pkcs1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: pkcs1}), ""},
		{"fail/not-pem", []byte("not a key"), "no PEM block"},
		{"fail/public-key", authntest.Must(authntest.PublicKeyPEM(ec.Public())), "not a private key"},
		{"fail/garbage-der", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("garbage")}), "does not parse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := apikeys.LoadSigningKey(writeFile(t, dir, strings.ReplaceAll(tc.name, "/", "_"), tc.data))
			if tc.err == "" {
				if err != nil || k == nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, apikeys.ErrKey) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
	if _, err := apikeys.LoadSigningKey(filepath.Join(dir, "missing.pem")); !errors.Is(err, apikeys.ErrKey) {
		t.Fatalf("missing file: %v", err)
	}
}

// A replica's verification keys from a JWKS, a PEM public key and a PEM
// certificate each verify keys of the service they came from.
func TestLoadVerificationKeys(t *testing.T) {
	dir := t.TempDir()
	signers := map[string]*apikeys.Service{}
	files := map[string][]string{}
	for _, kind := range []string{"jwks", "public-key", "certificate"} {
		key := authntest.Must(authntest.GenerateKey(authntest.ECDSAP256))
		svc := authntest.Must(apikeys.New(apikeys.Config{Issuer: iss, Signer: key}))
		signers[kind] = svc
		switch kind {
		case "jwks":
			files["jwks"] = append(files["jwks"], writeFile(t, dir, "k.jwks", svc.JWKS()))
		case "public-key":
			files["pem"] = append(files["pem"], writeFile(t, dir, "k.pub.pem", authntest.Must(authntest.PublicKeyPEM(key.Public()))))
		case "certificate":
			c := authntest.Must(authntest.Must(authntest.NewCA()).Client("sts", authntest.WithKey(key)))
			files["pem"] = append(files["pem"], writeFile(t, dir, "k.crt", c.CertPEM()))
		}
	}
	keys, err := apikeys.LoadVerificationKeys(files["jwks"], files["pem"], nil)
	if err != nil || len(keys) != 3 {
		t.Fatalf("%d keys, %v", len(keys), err)
	}
	replica := authntest.Must(apikeys.New(apikeys.Config{Issuer: iss, Verification: keys}))
	for kind, svc := range signers {
		out := authntest.Must(svc.Issue(apikeys.Request{APIs: []authn.APIRef{petstore}, Subject: "s"}))
		if _, err := verify(t, replica, out.Key); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}
	for name, args := range map[string][2][]string{
		"fail/missing-jwks": {{filepath.Join(dir, "nope.jwks")}, nil},
		"fail/missing-pem":  {nil, {filepath.Join(dir, "nope.pem")}},
		"fail/bad-jwks":     {{writeFile(t, dir, "bad.jwks", []byte(`{"keys": []}`))}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := apikeys.LoadVerificationKeys(args[0], args[1], nil); !errors.Is(err, apikeys.ErrKey) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}
