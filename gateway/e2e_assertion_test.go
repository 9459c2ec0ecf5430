package gateway_test

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// assertionEnv is the core environment; with keyFile, upstream_identity
// signs with the key in that file.
func assertionEnv(t *testing.T, keyFile string, key []byte) *env {
	t.Helper()
	cfg := coreConfig
	files := map[string]string{
		"shapes.yaml":      shapesDoc,
		"bare.yaml":        bareDoc,
		"bundle/.manifest": `{"revision": "assert-1", "roots": ["gatehouse/revocations"]}`,
	}
	if keyFile != "" {
		cfg += "upstream_identity: {key_file: " + keyFile + "}\n"
		files[keyFile] = string(key)
	}
	return newEnv(t, envOptions{config: cfg, files: files})
}

// assertionKID sends an allowed request and returns the identity assertion
// the upstream got, and its kid.
func (e *env) assertionKID() (token, kid string) {
	e.t.Helper()
	if s := e.do("GET", "/shapes/or", basic("alice", testUsers["alice"])).status; s != 200 {
		e.t.Fatalf("allowed request got %d", s)
	}
	token = e.upstream.last().Header.Get("X-JWT-Assertion")
	hdr, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(hdr)
	if err != nil {
		e.t.Fatalf("assertion header: %v", err)
	}
	var h struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		e.t.Fatalf("assertion header: %v", err)
	}
	return token, h.KID
}

// publishedKIDs is the admin JWKS and its key ids.
func (e *env) publishedKIDs() (jwk.Set, []string) {
	e.t.Helper()
	set, err := jwk.Parse([]byte(get(e.t, e.admin+"/.well-known/jwks.json")))
	if err != nil {
		e.t.Fatalf("gateway JWKS: %v", err)
	}
	var kids []string
	for i := range set.Len() {
		k, _ := set.Key(i)
		kids = append(kids, k.KeyID())
	}
	return set, kids
}

func keyPEM(t *testing.T) []byte {
	t.Helper()
	return authntest.Must(authntest.PrivateKeyPEM(authntest.Must(authntest.GenerateKey(authntest.ECDSAP256))))
}

// A changed upstream_identity.key_file is read by the next reload: new
// assertions are signed with the new key, and the published JWKS holds the
// new key and the old one (for the old assertions' lifetime plus the JWKS
// cache age), so upstreams verify both across the rotation. A key file that
// does not load fails the reload and the old key keeps signing.
func TestAssertionKeyRotatesOnReload(t *testing.T) {
	t.Parallel()
	e := assertionEnv(t, "assertion-key.pem", keyPEM(t))
	oldTok, oldKID := e.assertionKID()
	if _, kids := e.publishedKIDs(); !slices.Equal(kids, []string{oldKID}) {
		t.Fatalf("published %v, want [%s]", kids, oldKID)
	}

	keyFile := filepath.Join(e.dir, "assertion-key.pem")
	if err := authntest.WriteAtomically(keyFile, keyPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Reload(t.Context()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	newTok, newKID := e.assertionKID()
	if newKID == oldKID {
		t.Fatal("after the reload assertions are still signed with the old key")
	}
	set, kids := e.publishedKIDs()
	if !slices.Contains(kids, oldKID) || !slices.Contains(kids, newKID) || len(kids) != 2 {
		t.Fatalf("published %v, want the new %s and the old %s", kids, newKID, oldKID)
	}
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if _, err := jwt.Parse([]byte(tok), jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithIssuer("gatehouse")); err != nil {
			t.Errorf("the %s assertion does not verify with the published JWKS: %v", name, err)
		}
	}

	if err := authntest.WriteAtomically(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := e.srv.Reload(t.Context())
	if err == nil || !strings.Contains(err.Error(), "/upstream_identity/key_file") {
		t.Fatalf("reload with a broken key file: %v, want an error at /upstream_identity/key_file", err)
	}
	if _, kid := e.assertionKID(); kid != newKID {
		t.Fatalf("after a failed reload assertions are signed with %s, want %s", kid, newKID)
	}
}

// Without a key file the gateway generates one key per process: reloads
// keep it, so upstreams' cached JWKS stay valid.
func TestGeneratedAssertionKeySurvivesReload(t *testing.T) {
	t.Parallel()
	e := assertionEnv(t, "", nil)
	_, before := e.assertionKID()
	if err := e.srv.Reload(t.Context()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	_, after := e.assertionKID()
	if after != before {
		t.Fatalf("a reload changed the generated key from %s to %s", before, after)
	}
	if _, kids := e.publishedKIDs(); !slices.Equal(kids, []string{before}) {
		t.Fatalf("published %v, want [%s]", kids, before)
	}
}
