// Package apikeys is the gateway's security token service for API keys: it
// issues self-contained, signed API keys (JWTs that authn.APIKey verifies)
// for exactly the APIs a partner may call, for a bounded time, and publishes
// the public keys that verify them, so other replicas need no private key.
//
// A key is a JWS signed with the service's one signing key (ES256 by
// default; RS256 and EdDSA allowed), kid = the key's RFC 7638 thumbprint:
//
//	header: {"alg": "ES256", "typ": "gatehouse-apikey+jwt", "kid": "<thumbprint>"}
//	claims: {"iss", "sub", "iat", "exp"?, "jti", "token_use": "gatehouse_api_key",
//	         "apis": [{"name", "version"?}], "application"?, "plan"?, "scope"?}
//
// Both the typ and the token_use claim mark it as an API key: the API key
// authenticator requires them, the bearer JWT authenticator refuses them.
package apikeys

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/cert"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/jose"
)

// Defaults of a Service.
const (
	DefaultValidity    = 30 * 24 * time.Hour
	DefaultMaxValidity = 365 * 24 * time.Hour
	DefaultAlgorithm   = "ES256"
	// MinValidity is the shortest validity a key may be issued with.
	MinValidity = time.Minute
)

// Errors callers inspect with errors.Is.
var (
	// ErrInvalidRequest wraps every problem with an issuing request (the
	// HTTP endpoint answers 400 with its message).
	ErrInvalidRequest = errors.New("invalid API key request")
	// ErrCannotIssue: the service has verification keys only.
	ErrCannotIssue = errors.New("this gateway has no API key signing key")
	// ErrKey wraps problems with the signing or verification keys.
	ErrKey = errors.New("API key signing key")
)

// Config configures a Service.
type Config struct {
	// Name is the identity source name of keys it verifies ("api_keys").
	Name string
	// Issuer is the iss of the keys (required).
	Issuer string
	// Signer signs keys; nil makes a verify-only service (a replica).
	Signer crypto.Signer
	// Certificate, if set, must hold Signer's public key; it is published
	// in the JWKS (x5c) so verifiers may pin it.
	Certificate *x509.Certificate
	// Algorithm of the signing key: ES256 (default), RS256, EdDSA.
	Algorithm string
	// Verification are further keys that verify keys (rotation: the
	// previous signing keys; on a replica, all of them).
	Verification []*authn.VerificationKey
	// DefaultValidity applies when a request names none (DefaultValidity
	// when zero); MaxValidity bounds any request (DefaultMaxValidity when
	// zero). AllowNoExpiry permits keys without exp.
	DefaultValidity time.Duration
	MaxValidity     time.Duration
	AllowNoExpiry   bool
	// KnownAPIs, when not nil, are the APIs keys may be issued for; a
	// request naming another is refused (typos never produce a useless key).
	KnownAPIs []authn.APIRef
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Service issues and describes API keys. It is immutable.
type Service struct {
	cfg    Config
	kid    string
	signer *jose.Signer // nil when verify-only
	keys   *authn.StaticKeys
	jwks   []byte
}

// New checks cfg and prepares the signing key and the published key set.
func New(cfg Config) (*Service, error) {
	if cfg.Issuer == "" {
		return nil, fmt.Errorf("%w: issuer is required", ErrKey)
	}
	if cfg.Name == "" {
		cfg.Name = "api_keys"
	}
	if cfg.Algorithm == "" {
		cfg.Algorithm = DefaultAlgorithm
	}
	if !slices.Contains(authn.APIKeyAlgorithms, cfg.Algorithm) {
		return nil, fmt.Errorf("%w: algorithm %q is not one of %v", ErrKey, cfg.Algorithm, authn.APIKeyAlgorithms)
	}
	if cfg.DefaultValidity == 0 {
		cfg.DefaultValidity = DefaultValidity
	}
	if cfg.MaxValidity == 0 {
		cfg.MaxValidity = DefaultMaxValidity
	}
	if cfg.DefaultValidity < MinValidity || cfg.DefaultValidity > cfg.MaxValidity {
		return nil, fmt.Errorf("%w: default validity %s must be between %s and the max validity %s", ErrKey, cfg.DefaultValidity, MinValidity, cfg.MaxValidity)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg}
	var keys []*authn.VerificationKey
	var published []jwk.Key
	if cfg.Signer != nil {
		vk, pub, err := s.prepareSigner()
		if err != nil {
			return nil, err
		}
		keys = append(keys, vk)
		published = append(published, pub)
	} else if cfg.Certificate != nil {
		return nil, fmt.Errorf("%w: a certificate is configured without its signing key", ErrKey)
	}
	for _, k := range cfg.Verification {
		if k.ID == "" {
			k.ID = k.Thumbprint
		}
		if slices.ContainsFunc(keys, func(o *authn.VerificationKey) bool { return o.Thumbprint == k.Thumbprint }) {
			continue // the signing key listed again among verification keys
		}
		pub, err := publicJWK(k.Public, k.ID, onlyAlg(k.Algorithms))
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
		published = append(published, pub)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no signing key and no verification keys", ErrKey)
	}
	var err error
	if s.keys, err = authn.NewStaticKeys(keys...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	if s.jwks, err = jose.MarshalJWKS(published...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	return s, nil
}

func (s *Service) prepareSigner() (*authn.VerificationKey, jwk.Key, error) {
	cfg := s.cfg
	signer, err := jose.NewSigner(cfg.Signer, cfg.Algorithm, authn.APIKeyTyp)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	vk, err := authn.NewVerificationKey(signer.KeyID(), cfg.Signer.Public(), cfg.Algorithm)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	s.signer, s.kid = signer, signer.KeyID()
	pub, err := signer.JWK()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	if c := cfg.Certificate; c != nil {
		cp, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !cp.Equal(cfg.Signer.Public()) {
			return nil, nil, fmt.Errorf("%w: the certificate does not hold the signing key's public key", ErrKey)
		}
		var chain cert.Chain
		if err := chain.AddString(base64.StdEncoding.EncodeToString(c.Raw)); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrKey, err)
		}
		if err := pub.Set(jwk.X509CertChainKey, &chain); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrKey, err)
		}
	}
	return vk, pub, nil
}

func onlyAlg(algs []string) string {
	if len(algs) == 1 {
		return algs[0]
	}
	return ""
}

func publicJWK(pub crypto.PublicKey, kid, alg string) (jwk.Key, error) {
	k, err := jose.PublicJWK(pub, kid, alg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	return k, nil
}

// CanIssue reports whether the service holds a signing key.
func (s *Service) CanIssue() bool { return s.signer != nil }

// KeyID is the kid of the signing key ("" when verify-only).
func (s *Service) KeyID() string { return s.kid }

// JWKS is the published key set: every key that verifies keys.
func (s *Service) JWKS() []byte { return s.jwks }

// Verifier is the configuration of authn.APIKey for keys of this service.
func (s *Service) Verifier() *authn.APIKeyIssuer {
	return &authn.APIKeyIssuer{
		Name:          s.cfg.Name,
		Issuer:        s.cfg.Issuer,
		Keys:          s.keys,
		AllowNoExpiry: s.cfg.AllowNoExpiry,
	}
}

// Limits reports the validity settings (for CLI help and the endpoint).
func (s *Service) Limits() (def, max time.Duration, noExpiry bool) {
	return s.cfg.DefaultValidity, s.cfg.MaxValidity, s.cfg.AllowNoExpiry
}

// sign signs claims as an API key.
func (s *Service) sign(claims map[string]any) (string, error) {
	out, err := s.signer.SignClaims(claims)
	if err != nil {
		return "", fmt.Errorf("%w: signing: %w", ErrKey, err)
	}
	return out, nil
}

func newJTI() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidRequest, fmt.Sprintf(format, args...))
}

// apiString renders refs for logs and messages.
func apiString(refs []authn.APIRef) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = r.Name
		if r.Version != "" {
			parts[i] += ":" + r.Version
		}
	}
	return strings.Join(parts, ",")
}

// WithKnownAPIs returns a copy of the service that issues keys only for
// apis (the APIs a gateway generation serves); the keys are shared.
func (s *Service) WithKnownAPIs(apis []authn.APIRef) *Service {
	c := *s
	c.cfg.KnownAPIs = slices.Clone(apis)
	if c.cfg.KnownAPIs == nil {
		c.cfg.KnownAPIs = []authn.APIRef{}
	}
	return &c
}
