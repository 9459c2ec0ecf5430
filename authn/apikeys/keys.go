package apikeys

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/authn"
)

// LoadSigningKey reads a PEM private key: PKCS#8 ("PRIVATE KEY"), SEC 1
// ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY"). Errors never quote the
// file's content.
func LoadSigningKey(file string) (crypto.Signer, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%w: %s holds no PEM block", ErrKey, file)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%w: %s: PEM block %q is not a private key", ErrKey, file, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: the private key does not parse", ErrKey, file)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not a signing key", ErrKey, file)
	}
	return s, nil
}

// LoadCertificate reads the first CERTIFICATE block of a PEM file.
func LoadCertificate(file string) (*x509.Certificate, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	for {
		var b *pem.Block
		b, raw = pem.Decode(raw)
		if b == nil {
			return nil, fmt.Errorf("%w: %s holds no CERTIFICATE block", ErrKey, file)
		}
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: invalid certificate", ErrKey, file)
			}
			return c, nil
		}
	}
}

// LoadVerificationKeys reads further verification keys: JWK Sets (e.g. the
// /.well-known/apikeys-jwks.json another gateway publishes) and PEM
// certificates or public keys (keyed by their thumbprint, as the service
// names its own key).
func LoadVerificationKeys(jwksFiles, pemFiles []string, log hclog.Logger) ([]*authn.VerificationKey, error) {
	var out []*authn.VerificationKey
	for _, f := range jwksFiles {
		ks, err := authn.LoadJWKSFile(f, log)
		if err != nil {
			return nil, fmt.Errorf("%w: verification keys: %w", ErrKey, err)
		}
		out = append(out, ks.Keys()...)
	}
	if len(pemFiles) > 0 {
		ks, err := authn.LoadPEMFiles(pemFiles...)
		if err != nil {
			return nil, fmt.Errorf("%w: verification keys: %w", ErrKey, err)
		}
		out = append(out, ks.Keys()...)
	}
	return out, nil
}
