package keymanager

import (
	"crypto"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/authn/jose"
)

// TokenTyp is the typ header of JWT access tokens (RFC 9068).
const TokenTyp = "at+jwt"

// newJWTSigner returns the signer of JWT access tokens with the key
// manager's own key (ES256 unless alg names another) and the JWKS that
// publishes it; kid is the key's RFC 7638 thumbprint.
func newJWTSigner(signer crypto.Signer, alg string) (*jose.Signer, []byte, error) {
	if alg == "" {
		alg = "ES256"
	}
	s, err := jose.NewSigner(signer, alg, TokenTyp)
	if err != nil {
		return nil, nil, fmt.Errorf("keymanager: %w", err)
	}
	pub, err := s.JWK()
	if err != nil {
		return nil, nil, fmt.Errorf("keymanager: %w", err)
	}
	jwks, err := jose.MarshalJWKS(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("keymanager: %w", err)
	}
	return s, jwks, nil
}

// signToken returns the JWT access token of rec (RFC 9068 claims; sub is
// the client, as for every client_credentials token).
func signToken(s *jose.Signer, iss string, rec Record) (string, error) {
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
	tok, err := s.SignClaims(claims)
	if err != nil {
		return "", fmt.Errorf("keymanager: signing: %w", err)
	}
	return tok, nil
}

func jsonNumber(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }
