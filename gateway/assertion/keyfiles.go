package assertion

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse/gatehouse/authn/jose"
)

// A fleet shares one key set: every replica reads the same files (a
// mounted secret), signs with the active key and publishes the active key
// and every verification-only key. Rotation with overlap is three reloads
// of the same files, never a restart:
//
//  1. publish the next key (verification_key_files or key_dir) — upstreams
//     refresh their copy of the key set within its max-age;
//  2. switch key_file to the next key, listing the old one for verification;
//  3. retire the old key once what it signed has expired.
//
// A replica that reloads between steps signs with a key every other
// replica already publishes, so an upstream holding any replica's key set
// verifies every replica's assertions.

// verificationKeys loads the published-only keys of files, without the
// active key (activeKid) and without duplicates, in a stable order.
func verificationKeys(files KeyFiles, activeKid string) ([]jwk.Key, error) {
	paths := slices.Clone(files.Verify)
	if files.Dir != "" {
		entries, err := os.ReadDir(files.Dir)
		if err != nil {
			return nil, fmt.Errorf("%w: key_dir: %w", ErrSigningKey, err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") && strings.HasSuffix(e.Name(), ".pem") {
				paths = append(paths, filepath.Join(files.Dir, e.Name()))
			}
		}
	}
	seen := map[string]bool{activeKid: true}
	var keys []jwk.Key
	for _, p := range paths {
		pub, err := readPublicKey(p)
		if err != nil {
			return nil, err
		}
		k, kid, err := publicJWK(pub)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrSigningKey, p, err)
		}
		if seen[kid] {
			continue
		}
		seen[kid] = true
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b jwk.Key) int { return strings.Compare(a.KeyID(), b.KeyID()) })
	return keys, nil
}

// readPublicKey reads a verification key: a PEM public key (PKIX) or a
// private key (the same forms key_file accepts), of which only the public
// half is used.
func readPublicKey(file string) (crypto.PublicKey, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSigningKey, err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%w: %s holds no PEM block", ErrSigningKey, file)
	}
	if block.Type != "PUBLIC KEY" {
		s, err := readSigningKey(file)
		if err != nil {
			return nil, err
		}
		return s.Public(), nil
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: the public key does not parse", ErrSigningKey, file)
	}
	return pub, nil
}

// publicJWK is a verification key as published: kid = its RFC 7638
// thumbprint (what a replica signing with it puts in the header) and the
// algorithm the gateway signs with for that key type.
func publicJWK(pub crypto.PublicKey) (jwk.Key, string, error) {
	algs, err := jose.KeyAlgorithms(pub)
	if err != nil {
		return nil, "", err
	}
	alg := algs[0]
	if !slices.Contains([]string{"ES256", "EdDSA", "RS256"}, alg) {
		return nil, "", fmt.Errorf("a %s key cannot sign identity assertions (ES256 needs P-256, EdDSA Ed25519, RS256 RSA)", alg)
	}
	kid, err := jose.Thumbprint(pub)
	if err != nil {
		return nil, "", err
	}
	k, err := jose.PublicJWK(pub, kid, alg)
	return k, kid, err
}
