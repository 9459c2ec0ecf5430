package check_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/check"
)

// check warns when a config that expects more than one replica (state in
// Redis) lets each replica generate its own assertion key, and not when
// the replicas share a key file or run alone.
func TestCheckWarnsOfPerReplicaAssertionKeys(t *testing.T) {
	dir := t.TempDir()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "assertion.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	const warning = "/upstream_identity: no key_file: each replica signs identity assertions with a key it generates"
	cases := []struct {
		name, extra string
		warns       bool
	}{
		{"ok/one replica, generated key", "", false},
		{"warn/redis rate limits, generated key", "rate_limits: {redis: {address: '127.0.0.1:1'}}\n", true},
		{"ok/redis rate limits, shared key", "rate_limits: {redis: {address: '127.0.0.1:1'}}\nupstream_identity: {key_file: " + keyFile + "}\n", false},
		{"ok/redis rate limits, assertion off", "rate_limits: {redis: {address: '127.0.0.1:1'}}\nupstream_identity: {enabled: false}\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "gatehouse.yaml")
			cfg := `
listen: {http_address: "127.0.0.1:0", allow_credentials_over_http: true}
admin: {address: ""}
apis: [{openapi: ` + abs(t, "../../testdata/openapi/petstore-3.0.yaml") + `}]
schemes:
  jwt: {type: bearer, issuers: [corp]}
  basic: {type: basic, users_file: ` + abs(t, "../../testdata/config/users.htpasswd") + `}
issuers:
  - {name: corp, issuer: 'https://idp.example/', jwks_file: ` + abs(t, "../../testdata/keys/public-jwks.json") + `, audiences: [petstore]}
` + c.extra
			if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			rep, err := check.File(context.Background(), p, check.Options{Build: gateway.BuildForCheck})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if len(rep.Warnings) > 0 {
				got = rep.Warnings.Error()
			}
			if strings.Contains(got, warning) != c.warns {
				t.Fatalf("warned %v, want %v:\n%s", !c.warns, c.warns, got)
			}
		})
	}
}
