package keymanager

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/gatehouse/gatehouse/authn"
)

// TokenTyp is the typ header of JWT access tokens (RFC 9068).
const TokenTyp = "at+jwt"

// jwtSigner signs JWT access tokens with the key manager's own key; kid is
// the key's RFC 7638 thumbprint, published in the JWKS.
type jwtSigner struct {
	alg  jwa.SignatureAlgorithm
	key  jwk.Key
	kid  string
	jwks []byte
}

func newJWTSigner(signer crypto.Signer, alg string) (*jwtSigner, error) {
	if alg == "" {
		alg = "ES256"
	}
	ok := false
	switch k := signer.(type) {
	case *ecdsa.PrivateKey:
		ok = alg == "ES256" && k.Curve == elliptic.P256()
	case ed25519.PrivateKey:
		ok = alg == "EdDSA"
	case *rsa.PrivateKey:
		if k.N.BitLen() < authn.MinRSABits {
			return nil, fmt.Errorf("keymanager: RSA key of %d bits is below %d", k.N.BitLen(), authn.MinRSABits)
		}
		ok = alg == "RS256"
	default:
		return nil, fmt.Errorf("keymanager: unsupported signing key type %T", signer)
	}
	if !ok {
		return nil, fmt.Errorf("keymanager: the signing key cannot sign %s (ES256 needs a P-256 key, RS256 an RSA key, EdDSA an Ed25519 key)", alg)
	}
	vk, err := authn.NewVerificationKey("", signer.Public(), alg)
	if err != nil {
		return nil, fmt.Errorf("keymanager: %w", err)
	}
	s := &jwtSigner{alg: jwa.SignatureAlgorithm(alg), kid: vk.Thumbprint}
	if s.key, err = jwk.FromRaw(signer); err != nil {
		return nil, fmt.Errorf("keymanager: %w", err)
	}
	pub, err := jwk.FromRaw(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("keymanager: %w", err)
	}
	_ = pub.Set(jwk.KeyIDKey, s.kid)
	_ = pub.Set(jwk.KeyUsageKey, "sig")
	_ = pub.Set(jwk.AlgorithmKey, s.alg)
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	if s.jwks, err = json.Marshal(set); err != nil {
		return nil, fmt.Errorf("keymanager: %w", err)
	}
	return s, nil
}

// sign returns the JWT access token of rec (RFC 9068 claims; sub is the
// client, as for every client_credentials token).
func (s *jwtSigner) sign(iss string, rec Record) (string, error) {
	claims := map[string]any{
		"iss":         iss,
		"sub":         rec.ClientID,
		"client_id":   rec.ClientID,
		"application": rec.Application,
		"jti":         rec.TokenID,
		"iat":         rec.IssuedAt.Unix(),
		"exp":         rec.ExpiresAt.Unix(),
	}
	if len(rec.Scopes) > 0 {
		claims["scope"] = strings.Join(rec.Scopes, " ")
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.TypeKey, TokenTyp)
	_ = hdr.Set(jws.KeyIDKey, s.kid)
	out, err := jws.Sign(payload, jws.WithKey(s.alg, s.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("keymanager: signing: %w", err)
	}
	return string(out), nil
}

func jsonNumber(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }
