package assertion

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/apikeys"
)

func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case "RS256":
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("%w: unsupported algorithm %q", ErrSigningKey, alg)
}

// readSigningKey reads the assertion key with the same PEM rules as the API
// key and key manager signing keys (PKCS#8, SEC 1 or PKCS#1).
func readSigningKey(file string) (crypto.Signer, error) {
	s, err := apikeys.LoadSigningKey(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSigningKey, err)
	}
	return s, nil
}

// certificateClaim is the "certificate" claim of the identity assertion.
func certificateClaim(c *authn.Certificate) map[string]any {
	m := map[string]any{
		"subject":            c.Subject,
		"issuer":             c.Issuer,
		"serial":             c.Serial,
		"fingerprint_sha256": c.FingerprintSHA256,
	}
	if !c.NotAfter.IsZero() {
		m["not_after"] = c.NotAfter.Unix()
	}
	if c.SPIFFEID != "" {
		m["spiffe_id"] = c.SPIFFEID
	}
	for k, v := range map[string][]string{"dns_names": c.DNSNames, "emails": c.Emails, "uris": c.URIs} {
		if len(v) > 0 {
			m[k] = v
		}
	}
	return m
}
