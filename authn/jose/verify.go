package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// MinRSABits is the smallest RSA modulus accepted, to verify or to sign
// (RFC 7518 §3.3, §3.5).
const MinRSABits = 2048

// AsymmetricAlgorithms are the public-key JWS algorithms Gatehouse verifies.
// "none" is never one; "Ed25519" (RFC 9864's fully-specified name for EdDSA
// over Ed25519) is verified too but only when listed explicitly.
var AsymmetricAlgorithms = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA",
}

// HMACAlgorithms are the shared-secret JWS algorithms.
var HMACAlgorithms = []string{"HS256", "HS384", "HS512"}

// KnownAlgorithm reports whether alg is a JWS algorithm Gatehouse can verify
// at all.
func KnownAlgorithm(alg string) bool {
	return slices.Contains(AsymmetricAlgorithms, alg) || slices.Contains(HMACAlgorithms, alg) || alg == "Ed25519"
}

// VerifySignature checks the signature of p with pub under alg. alg has
// already been checked against the caller's allow-list and the key's own
// algorithms; the token's header plays no part here. Failures are *Error
// (BadSignature).
func VerifySignature(p Parts, pub any, alg string) error {
	sig, err := DecodeSegment(p.Signature)
	if err != nil || len(sig) == 0 {
		return errSigEncoding
	}
	v, ok := verifiers[alg]
	if !ok {
		return errNoVerifier
	}
	if err := v.Verify(p.SigningInput, sig, pub); err != nil {
		return errSignature
	}
	return nil
}

// verifiers holds one jwx verifier per algorithm, built once: a verifier
// only checks bytes with the key it is handed, so nothing in the token can
// pick a key or an algorithm. jwx's own jws.Verify parses the token again
// and was slower (BenchmarkJWSPaths in authn).
var verifiers = func() map[string]jws.Verifier {
	m := map[string]jws.Verifier{}
	for _, alg := range append(slices.Clone(AsymmetricAlgorithms), HMACAlgorithms...) {
		v, err := jws.NewVerifier(jwa.SignatureAlgorithm(alg))
		if err != nil {
			panic("jose: no jwx verifier for " + alg + ": " + err.Error())
		}
		m[alg] = v
	}
	m["Ed25519"] = m["EdDSA"]
	return m
}()

// KeyAlgorithms returns the algorithms a public key's type and size allow.
// It refuses RSA keys under MinRSABits or with a bad exponent, EC points
// off their curve, curves other than P-256/P-384/P-521, HMAC secrets and
// private keys.
func KeyAlgorithms(pub crypto.PublicKey) ([]string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N == nil || k.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("RSA key of %d bits is below the minimum of %d", rsaBits(k), MinRSABits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return nil, errors.New("RSA public exponent must be odd and at least 3")
		}
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, nil
	case *ecdsa.PublicKey:
		if k.X == nil || k.Y == nil {
			return nil, errors.New("invalid EC key")
		}
		if _, err := k.ECDH(); err != nil { // the point must be on the curve
			return nil, errors.New("EC point is not on the curve")
		}
		switch k.Curve {
		case elliptic.P256():
			return []string{"ES256"}, nil
		case elliptic.P384():
			return []string{"ES384"}, nil
		case elliptic.P521():
			return []string{"ES512"}, nil
		}
		return nil, errors.New("unsupported elliptic curve")
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, errors.New("invalid Ed25519 key")
		}
		return []string{"EdDSA", "Ed25519"}, nil
	case []byte:
		return nil, errors.New("symmetric keys are not accepted here: configure the issuer's shared secret instead")
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return nil, errors.New("private key given where a public key is expected")
	}
	return nil, fmt.Errorf("unsupported key type %T", pub)
}

func rsaBits(k *rsa.PublicKey) int {
	if k.N == nil {
		return 0
	}
	return k.N.BitLen()
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of a public key, base64url:
// the kid of every key Gatehouse signs with, and safe to log.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	k, err := jwk.FromRaw(pub)
	if err != nil {
		return "", fmt.Errorf("key: %w", err)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}
