package authntest

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// A DPoP client (RFC 9449) for tests: a Signer's key signs proofs that
// embed its public JWK, and JKT is the thumbprint an issuer puts in the
// bound token's cnf.jkt.

// JKT is the RFC 7638 SHA-256 thumbprint of the signer's public key,
// base64url (cnf.jkt). Empty for HMAC signers.
func (s *Signer) JKT() string {
	k, err := jwk.FromRaw(s.Public())
	if err != nil {
		return ""
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// ProofOption adjusts a proof's header and claims before signing.
type ProofOption func(header, claims map[string]any)

// ProofHeader sets (nil: removes) a header member of the proof.
func ProofHeader(name string, value any) ProofOption {
	return func(h, _ map[string]any) {
		if value == nil {
			delete(h, name)
		} else {
			h[name] = value
		}
	}
}

// ProofClaim sets (nil: removes) a claim of the proof.
func ProofClaim(name string, value any) ProofOption {
	return func(_, c map[string]any) {
		if value == nil {
			delete(c, name)
		} else {
			c[name] = value
		}
	}
}

// AccessTokenHash is a proof's ath for token.
func AccessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// DPoPProof returns a proof for method and htu: header {typ: dpop+jwt,
// alg, jwk: the public key}, claims {jti: random, htm, htu, iat: now, ath:
// hash of accessToken (omitted when empty)}, adjusted by opts.
func (s *Signer) DPoPProof(method, htu, accessToken string, opts ...ProofOption) (string, error) {
	pub, err := s.JWKMap()
	if err != nil {
		return "", err
	}
	delete(pub, "kid")
	delete(pub, "use")
	delete(pub, "alg")
	jti := make([]byte, 12)
	_, _ = rand.Read(jti)
	h := map[string]any{"typ": "dpop+jwt", "alg": s.alg, "jwk": pub}
	c := map[string]any{"jti": hex.EncodeToString(jti), "htm": method, "htu": htu, "iat": time.Now().Unix()}
	if accessToken != "" {
		c["ath"] = AccessTokenHash(accessToken)
	}
	for _, o := range opts {
		o(h, c)
	}
	return signRaw(h, c, s.key, s.alg)
}

// PrivateJWKMap is the signer's private key as a JWK map, for proofs that
// (wrongly) embed it.
func (s *Signer) PrivateJWKMap() (map[string]any, error) {
	k, err := jwk.FromRaw(s.key)
	if err != nil {
		return nil, err
	}
	return jwkMap(k)
}
