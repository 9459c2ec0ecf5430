package assertion

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/jose"
	"github.com/gatehouse/gatehouse/internal/config"
)

// writeKey writes a generated key to dir/name as a PEM private key, or
// only its public half when public is set, and returns the path and kid.
func writeKey(t *testing.T, dir, name string, key crypto.Signer, public bool) (string, string) {
	t.Helper()
	var block *pem.Block
	if public {
		der, err := x509.MarshalPKIXPublicKey(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PUBLIC KEY", Bytes: der}
	} else {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	kid, err := jose.Thumbprint(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return p, kid
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// kidsOf lists the kids of a JWKS document, sorted.
func kidsOf(t *testing.T, jwks []byte) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		if k.Alg == "" {
			t.Errorf("key %s has no alg", k.Kid)
		}
		out = append(out, k.Kid)
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// The key set: the active key signs; it and every verification-only key
// (listed files, public or private, and the *.pem of key_dir) are
// published once each; bad files are refused with ErrSigningKey.
func TestBuildKeySet(t *testing.T) {
	dir := t.TempDir()
	keysDir := filepath.Join(dir, "keys")
	if err := os.Mkdir(keysDir, 0o700); err != nil {
		t.Fatal(err)
	}
	active, activeKid := writeKey(t, keysDir, "active.pem", ecKey(t), false)
	next, nextKid := writeKey(t, dir, "next.pub.pem", ecKey(t), true)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ed, edKid := writeKey(t, dir, "ed.pem", edPriv, false)
	_, dirKid := writeKey(t, keysDir, "old.pem", ecKey(t), true)
	if err := os.WriteFile(filepath.Join(keysDir, "README"), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("no pem here"), 0o600); err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	unsigned, _ := writeKey(t, dir, "p384.pem", p384, true)
	cfg := Config{Issuer: "gatehouse", Lifetime: config.Duration(time.Minute), Algorithm: "ES256"}
	cases := []struct {
		name  string
		files KeyFiles
		want  []string // published kids; nil: an error
	}{
		{"ok/key_file alone", KeyFiles{Active: active}, []string{activeKid}},
		{"ok/verification files", KeyFiles{Active: active, Verify: []string{next, ed, active}}, sorted(activeKid, nextKid, edKid)},
		{"ok/key_dir holding the active key", KeyFiles{Active: active, Dir: keysDir}, sorted(activeKid, dirKid)},
		{"ok/dir and files overlap once", KeyFiles{Active: active, Dir: keysDir, Verify: []string{next}}, sorted(activeKid, dirKid, nextKid)},
		{"bad/not PEM", KeyFiles{Active: active, Verify: []string{garbage}}, nil},
		{"bad/missing file", KeyFiles{Active: active, Verify: []string{filepath.Join(dir, "nope.pem")}}, nil},
		{"bad/missing dir", KeyFiles{Active: active, Dir: filepath.Join(dir, "nodir")}, nil},
		{"bad/a key the gateway cannot sign with", KeyFiles{Active: active, Verify: []string{unsigned}}, nil},
		{"bad/public active key", KeyFiles{Active: next}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Build(cfg, c.files, nil)
			if c.want == nil {
				if !errors.Is(err, ErrSigningKey) {
					t.Fatalf("err %v, want ErrSigningKey", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.KeyID() != activeKid {
				t.Fatalf("signs with %s, want the active key %s", s.KeyID(), activeKid)
			}
			if got := kidsOf(t, s.JWKS()); !slices.Equal(got, c.want) {
				t.Fatalf("published %v, want %v", got, c.want)
			}
		})
	}
}

// Rotation with overlap, as three reloads of one replica's files: publish
// next, switch, retire. An upstream verifying with whatever key set the
// replica published at any step verifies the assertions signed before and
// after that step.
func TestRotationWithOverlap(t *testing.T) {
	dir := t.TempDir()
	oldKey, nextKey := ecKey(t), ecKey(t)
	oldFile, oldKid := writeKey(t, dir, "old.pem", oldKey, false)
	nextFile, nextKid := writeKey(t, dir, "next.pem", nextKey, false)
	cfg := Config{Issuer: "gatehouse", Lifetime: config.Duration(time.Minute), Algorithm: "ES256"}
	steps := []struct {
		name    string
		files   KeyFiles
		signs   string
		publish []string // at the reload
		later   []string // after the overlap of anything dropped
	}{
		{"start", KeyFiles{Active: oldFile}, oldKid, []string{oldKid}, []string{oldKid}},
		{"publish next", KeyFiles{Active: oldFile, Verify: []string{nextFile}}, oldKid, sorted(oldKid, nextKid), sorted(oldKid, nextKid)},
		{"switch", KeyFiles{Active: nextFile, Verify: []string{oldFile}}, nextKid, sorted(oldKid, nextKid), sorted(oldKid, nextKid)},
		{"retire old", KeyFiles{Active: nextFile}, nextKid, sorted(oldKid, nextKid), []string{nextKid}},
	}
	var p Published
	now := time.Unix(1_800_000_000, 0)
	var prevToken string
	op := &Operation{API: "petstore", Version: "1", ID: "getPet"}
	ids := []*authn.Identity{{Scheme: "jwt", Type: authn.TypeJWT, Subject: "alice"}}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			s, err := Build(cfg, st.files, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.now = func() time.Time { return now }
			p.Use(s, now)
			if s.KeyID() != st.signs {
				t.Fatalf("signs with %s, want %s", s.KeyID(), st.signs)
			}
			jwks, _, err := p.JWKS(now)
			if err != nil {
				t.Fatal(err)
			}
			if got := kidsOf(t, jwks); !slices.Equal(got, st.publish) {
				t.Fatalf("published %v, want %v", got, st.publish)
			}
			tok, err := s.Assertion(nil, op, ids)
			if err != nil {
				t.Fatal(err)
			}
			for _, tk := range []string{prevToken, tok} {
				if tk == "" {
					continue
				}
				if _, err := verifyWith(jwks, tk); err != nil {
					t.Fatalf("an assertion does not verify with the published set: %v", err)
				}
			}
			prevToken = tok
			later, _, _ := p.JWKS(now.Add(cfg.Lifetime.D() + JWKSMaxAge + time.Second))
			if got := kidsOf(t, later); !slices.Equal(got, st.later) {
				t.Fatalf("published after the overlap %v, want %v", got, st.later)
			}
		})
	}
}

// verifyWith verifies tok with a published key set the way an upstream
// would: the key named by the header's kid, with its alg.
func verifyWith(jwks []byte, tok string) ([]byte, error) {
	set, err := jwk.Parse(jwks)
	if err != nil {
		return nil, err
	}
	return jws.Verify([]byte(tok), jws.WithKeySet(set, jws.WithRequireKid(true)))
}
