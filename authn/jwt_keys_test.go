package authn_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

func captureLogger() (hclog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true, Level: hclog.Trace}), &buf
}

func TestParseJWKSRejectsWeakAndMisusedKeys(t *testing.T) {
	good := authntest.Must(authntest.NewSigner("ES256", authntest.WithKID("good")))
	weak := authntest.Must(authntest.NewSigner("RS256", authntest.WithKID("weak-rsa"), authntest.WithRSABits(1024)))
	rsaS := authntest.Must(authntest.NewSigner("RS256", authntest.WithKID("rsa")))
	hs := authntest.Must(authntest.NewSigner("HS256", authntest.WithKID("oct")))
	es := authntest.Must(authntest.NewSigner("ES256", authntest.WithKID("es")))

	edit := func(s *authntest.Signer, kid string, f func(m map[string]any)) map[string]any {
		m := authntest.Must(s.JWKMap())
		m["kid"] = kid
		f(m)
		return m
	}
	privateRSA, err := jwkPrivateMap(rsaS, "private")
	if err != nil {
		t.Fatal(err)
	}
	keys := []map[string]any{
		authntest.Must(good.JWKMap()),
		authntest.Must(weak.JWKMap()),
		authntest.Must(hs.JWKMap()),
		edit(rsaS, "enc-use", func(m map[string]any) { m["use"] = "enc" }),
		edit(rsaS, "enc-ops", func(m map[string]any) { delete(m, "use"); m["key_ops"] = []string{"encrypt"} }),
		edit(rsaS, "alg-mismatch", func(m map[string]any) { m["alg"] = "ES256" }),
		edit(es, "curve-mismatch", func(m map[string]any) { m["alg"] = "ES384" }),
		edit(rsaS, "alg-none", func(m map[string]any) { m["alg"] = "none" }),
		edit(rsaS, "alg-hs", func(m map[string]any) { m["alg"] = "HS256" }),
		edit(rsaS, "no-alg", func(m map[string]any) { delete(m, "alg") }),
		{"kty": "XYZ", "kid": "unknown-kty"},
		{"kty": "RSA", "kid": "garbage", "n": "!!", "e": "AQAB"},
		privateRSA,
		// Found by FuzzParseRemoteJWKS: jwx panicked on a coordinate
		// larger than the field.
		edit(es, "ec-off-curve", func(m map[string]any) { m["x"] = ""; m["y"] = strings.Repeat("0", 44) }),
		edit(es, "ec-not-on-curve", func(m map[string]any) { m["y"] = m["x"] }),
		// Members are read by exact name, as jwx reads them.
		edit(rsaS, "case-trick", func(m map[string]any) { m["use"] = "enc"; m["USE"] = "sig" }),
		edit(rsaS, "use-not-string", func(m map[string]any) { m["use"] = 1 }),
	}
	log, buf := captureLogger()
	ks, err := authn.ParseJWKS(authntest.Must(authntest.JWKSFromMaps(keys...)), log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for kid, alg := range map[string]string{"good": "ES256", "no-alg": "PS384"} {
		k, err := ks.Key(ctx, kid, alg)
		if err != nil || !k.Allows(alg) {
			t.Errorf("key %s: %v", kid, err)
		}
	}
	// A key set member with private material (d, p, q) is refused: the
	// key server is compromised or misconfigured.
	for _, kid := range []string{"private", "weak-rsa", "oct", "enc-use", "enc-ops", "alg-mismatch", "curve-mismatch", "alg-none", "alg-hs", "unknown-kty", "garbage", "ec-off-curve", "ec-not-on-curve", "case-trick", "use-not-string"} {
		if _, err := ks.Key(ctx, kid, "RS256"); !errors.Is(err, authn.ErrUnknownKey) {
			t.Errorf("key %s was accepted", kid)
		}
		if !strings.Contains(buf.String(), `"kid":"`+kid+`"`) {
			t.Errorf("no log line names skipped key %s", kid)
		}
	}
	logs := buf.String()
	if !strings.Contains(logs, "key holds private key material") {
		t.Error("private key material not warned about")
	}
	// No secret ever reaches the logs: the oct key's bytes, the private
	// exponent.
	for _, secret := range []string{authntest.Must(hs.JWKMap())["k"].(string), privateRSA["d"].(string), privateRSA["p"].(string)} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret leaked into the logs")
		}
	}
}

// jwkPrivateMap returns the private JWK of s as a map, with kid.
func jwkPrivateMap(s *authntest.Signer, kid string) (map[string]any, error) {
	k, err := s.PrivateJWK()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["kid"] = kid
	return m, nil
}

func TestParseJWKSErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"not-json":        "<html>",
		"empty":           "",
		"no-keys":         `{"keys":[]}`,
		"only-bad":        `{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`,
		"keys-object":     `{"keys":{}}`,
		"keys-mixed-case": `{"KEYS":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := authn.ParseJWKS([]byte(doc), nil); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	if _, err := authn.LoadJWKSFile(filepath.Join(t.TempDir(), "missing.json"), nil); err == nil {
		t.Fatal("missing file: want an error")
	}
}

func TestStaticKeysLookup(t *testing.T) {
	a := authntest.Must(authntest.NewSigner("ES256", authntest.WithKID("a")))
	b := authntest.Must(authntest.NewSigner("EdDSA", authntest.WithKID("b")))
	ctx := context.Background()
	two := authntest.Must(authn.ParseJWKS(authntest.Must(authntest.JWKS(a, b)), nil))
	if k, err := two.Key(ctx, "b", "EdDSA"); err != nil || k.ID != "b" {
		t.Fatalf("by kid: %v", err)
	}
	if _, err := two.Key(ctx, "", "ES256"); !errors.Is(err, authn.ErrUnknownKey) {
		t.Fatalf("no kid, two keys: %v", err)
	}
	if _, err := two.Key(ctx, "c", "ES256"); !errors.Is(err, authn.ErrUnknownKey) {
		t.Fatalf("unknown kid: %v", err)
	}
	one := authntest.Must(authn.ParseJWKS(authntest.Must(authntest.JWKS(a)), nil))
	if _, err := one.Key(ctx, "", "ES256"); err != nil {
		t.Fatalf("no kid, one key: %v", err)
	}
	if _, err := one.Key(ctx, "zzz", "ES256"); !errors.Is(err, authn.ErrUnknownKey) {
		t.Fatalf("JWKS key ids are binding: %v", err)
	}
	if len(two.Keys()) != 2 {
		t.Fatal("Keys()")
	}
	if _, err := authn.NewStaticKeys(); err == nil {
		t.Fatal("empty source: want an error")
	}
}

func TestNewVerificationKey(t *testing.T) {
	weak := authntest.Must(authntest.NewSigner("RS256", authntest.WithRSABits(1024)))
	rsaS := authntest.Must(authntest.NewSigner("RS256"))
	tests := []struct {
		name string
		pub  any
		alg  string
		want string
	}{
		{name: "weak-rsa", pub: weak.Public(), want: "below the minimum of 2048"},
		{name: "private", pub: rsaS.Private(), want: "private key"},
		{name: "hmac", pub: []byte("0123456789abcdef0123456789abcdef"), want: "symmetric"},
		{name: "alg-mismatch", pub: rsaS.Public(), alg: "ES256", want: "cannot do alg"},
		{name: "unsupported", pub: "nope", want: "unsupported key type"},
		{name: "rsa-exponent-1", pub: &rsa.PublicKey{N: rsaS.Public().(*rsa.PublicKey).N, E: 1}, want: "exponent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := authn.NewVerificationKey("k", tc.pub, tc.alg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	k, err := authn.NewVerificationKey("k", rsaS.Public(), "PS512")
	if err != nil || !k.Allows("PS512") || k.Allows("RS256") || k.Thumbprint == "" {
		t.Fatalf("PS512 key: %+v %v", k, err)
	}
}

func TestPEMKeySource(t *testing.T) {
	f := newJWTFixture(t)
	ca := authntest.Must(authntest.NewCA())
	leaf := authntest.Must(ca.Client("idp-signing", authntest.WithKeyType(authntest.RSA2048)))
	other := authntest.Must(ca.Client("idp-signing-2", authntest.WithKeyType(authntest.Ed25519)))
	dir := t.TempDir()
	certFile, keyFile, err := leaf.WriteFiles(dir, "idp")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st.Mode(), err)
	}
	pubPEM := authntest.Must(other.PublicKeyPEM())
	pubFile := filepath.Join(dir, "other.pub.pem")
	if err := os.WriteFile(pubFile, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}

	// One certificate: its key verifies tokens whatever kid they name.
	single, err := authn.LoadPEMFiles(certFile)
	if err != nil {
		t.Fatal(err)
	}
	is := *f.a
	is.Keys = single
	j := f.jwt(t, []*authn.Issuer{&is})
	signer := authntest.Must(authntest.NewSigner("RS256", authntest.WithSigningKey(leaf.Key), authntest.WithKID("whatever")))
	for _, opt := range []authntest.MintOption{authntest.WithoutKID(), authntest.WithHeader("kid", "whatever")} {
		if _, err := authenticate(t, j, mint(t, signer, f.claims(issA), opt)); err != nil {
			t.Fatalf("PEM single key: %v", err)
		}
	}

	// Two keys: selected by thumbprint or x5t#S256; other kids are unknown.
	both, err := authn.LoadPEMFiles(certFile, pubFile)
	if err != nil {
		t.Fatal(err)
	}
	is.Keys = both
	j = f.jwt(t, []*authn.Issuer{&is})
	if _, err := authenticate(t, j, mint(t, signer, f.claims(issA), authntest.WithHeader("kid", leaf.Thumbprint()))); err != nil {
		t.Fatalf("x5t#S256 kid: %v", err)
	}
	edSigner := authntest.Must(authntest.NewSigner("EdDSA", authntest.WithSigningKey(other.Key)))
	thumb := ""
	for _, k := range both.Keys() {
		if strings.HasPrefix(k.Algorithms[0], "EdDSA") {
			thumb = k.Thumbprint
		}
	}
	if _, err := authenticate(t, j, mint(t, edSigner, f.claims(issA), authntest.WithHeader("kid", thumb))); err != nil {
		t.Fatalf("thumbprint kid: %v", err)
	}
	_, err = authenticate(t, j, mint(t, signer, f.claims(issA)))
	if rej, ok := authn.AsRejection(err); !ok || rej.Reason != authn.ReasonUnknownKey {
		t.Fatalf("unknown kid with two PEM keys: %v", err)
	}

	// A private key PEM is refused, never used.
	keyPEM := authntest.Must(leaf.KeyPEM())
	if _, err := authn.ParsePEMKeys(keyPEM); err == nil || !strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Fatalf("private key PEM: %v", err)
	}
	if _, err := authn.ParsePEMKeys([]byte("nothing")); err == nil {
		t.Fatal("no PEM: want an error")
	}
	weakCert := authntest.Must(ca.Client("weak", authntest.WithKey(authntest.Must(authntest.NewSigner("RS256", authntest.WithRSABits(1024))).Private().(crypto.Signer))))
	if _, err := authn.ParsePEMKeys(weakCert.CertPEM()); err == nil || !strings.Contains(err.Error(), "below the minimum") {
		t.Fatalf("weak certificate key: %v", err)
	}
}
