package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// SigningAlgorithms are the algorithms Gatehouse signs with: one per key
// type (P-256 ECDSA, Ed25519, RSA ≥ MinRSABits).
var SigningAlgorithms = []string{"ES256", "EdDSA", "RS256"}

// Signer signs JWTs with one private key. The protected header
// {"alg","kid","typ"} is encoded once; kid is the key's RFC 7638
// thumbprint, as published in the signer's JWK. Signing uses the standard
// library directly: a signature per first-seen credential is on the
// identity assertion's hot path. A Signer is safe for concurrent use.
type Signer struct {
	alg, kid string
	key      crypto.Signer
	header   string // base64url of the protected header
}

// NewSigner returns a signer of tokens with header typ (omitted when
// empty) and algorithm alg; alg empty means the key's own algorithm. It
// refuses keys other than P-256 ECDSA, Ed25519 and RSA of at least
// MinRSABits, and an alg the key cannot do.
func NewSigner(key crypto.Signer, alg, typ string) (*Signer, error) {
	keyAlg, err := signingAlgorithm(key)
	if err != nil {
		return nil, err
	}
	if alg == "" {
		if keyAlg == "" {
			return nil, errors.New("ECDSA signing keys must be P-256 (ES256)")
		}
		alg = keyAlg
	}
	if alg != keyAlg {
		return nil, fmt.Errorf("the signing key cannot sign %s (ES256 needs a P-256 key, RS256 an RSA key, EdDSA an Ed25519 key)", alg)
	}
	if _, err := KeyAlgorithms(key.Public()); err != nil {
		return nil, err
	}
	kid, err := Thumbprint(key.Public())
	if err != nil {
		return nil, err
	}
	h := map[string]string{"alg": alg, "kid": kid}
	if typ != "" {
		h["typ"] = typ
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	return &Signer{alg: alg, kid: kid, key: key, header: EncodeSegment(hdr)}, nil
}

// signingAlgorithm is the one algorithm a private key signs with; "" for
// an ECDSA key on a curve other than P-256.
func signingAlgorithm(key crypto.Signer) (string, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return "", nil
		}
		return "ES256", nil
	case ed25519.PrivateKey:
		return "EdDSA", nil
	case *rsa.PrivateKey:
		if k.N.BitLen() < MinRSABits {
			return "", fmt.Errorf("RSA key of %d bits is below %d", k.N.BitLen(), MinRSABits)
		}
		return "RS256", nil
	}
	return "", fmt.Errorf("unsupported signing key type %T", key)
}

// Algorithm is the signing algorithm.
func (s *Signer) Algorithm() string { return s.alg }

// KeyID is the kid of the signing key (its RFC 7638 thumbprint).
func (s *Signer) KeyID() string { return s.kid }

// Public is the public half of the signing key.
func (s *Signer) Public() crypto.PublicKey { return s.key.Public() }

// SignClaims signs the JSON encoding of claims.
func (s *Signer) SignClaims(claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("claims: %w", err)
	}
	return s.Sign(payload)
}

// Sign returns the compact JWS of payload.
func (s *Signer) Sign(payload []byte) (string, error) {
	// 342 bytes is the base64url of a 2048-bit RSA signature, the longest.
	buf := make([]byte, 0, len(s.header)+1+b64.EncodedLen(len(payload))+1+342)
	buf = append(buf, s.header...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, payload)
	input := buf
	var sig []byte
	switch k := s.key.(type) {
	case *ecdsa.PrivateKey:
		h := sha256.Sum256(input)
		r, ss, err := ecdsa.Sign(rand.Reader, k, h[:])
		if err != nil {
			return "", fmt.Errorf("signing: %w", err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, input)
	case *rsa.PrivateKey:
		h := sha256.Sum256(input)
		var err error
		if sig, err = rsa.SignPKCS1v15(nil, k, crypto.SHA256, h[:]); err != nil {
			return "", fmt.Errorf("signing: %w", err)
		}
	}
	buf = append(buf, '.')
	return string(b64.AppendEncode(buf, sig)), nil
}

// JWK is the signer's public key as a JWK: kid, "use":"sig" and alg set.
// Each call returns a new key the caller may add members to (x5c).
func (s *Signer) JWK() (jwk.Key, error) { return PublicJWK(s.key.Public(), s.kid, s.alg) }

// PublicJWK is pub as a verification JWK with kid, "use":"sig" and, when
// not empty, alg.
func PublicJWK(pub crypto.PublicKey, kid, alg string) (jwk.Key, error) {
	k, err := jwk.FromRaw(pub)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		return nil, err
	}
	if err := k.Set(jwk.KeyUsageKey, "sig"); err != nil {
		return nil, err
	}
	if alg != "" {
		if err := k.Set(jwk.AlgorithmKey, jwa.SignatureAlgorithm(alg)); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// MarshalJWKS encodes keys as a JWK Set (RFC 7517 §5), the document
// verifiers of Gatehouse's tokens fetch.
func MarshalJWKS(keys ...jwk.Key) ([]byte, error) {
	set := jwk.NewSet()
	for _, k := range keys {
		if err := set.AddKey(k); err != nil {
			return nil, err
		}
	}
	return json.Marshal(set)
}
