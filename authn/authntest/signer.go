package authntest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Signer signs JWTs with one key and algorithm, and publishes the public
// half as a JWK with a kid.
type Signer struct {
	alg string
	kid string
	key any // crypto.Signer, or []byte for HS*
}

// SignerOption adjusts NewSigner.
type SignerOption func(*signerSpec)

type signerSpec struct {
	kid     string
	rsaBits int
	key     any
}

// WithKID sets the key id (a random one by default).
func WithKID(kid string) SignerOption { return func(s *signerSpec) { s.kid = kid } }

// WithRSABits sets the RSA modulus size (2048 by default; 1024 makes a
// deliberately weak key).
func WithRSABits(bits int) SignerOption { return func(s *signerSpec) { s.rsaBits = bits } }

// WithSigningKey uses an existing key (a crypto.Signer, or []byte for HS*),
// e.g. a certificate's key.
func WithSigningKey(k any) SignerOption { return func(s *signerSpec) { s.key = k } }

// NewSigner returns a signer for alg: RS256, RS384, RS512, PS256, PS384,
// PS512, ES256, ES384, ES512, EdDSA, or HS256, HS384, HS512 (a random 64-byte
// secret; for negative tests and shared-secret issuers).
func NewSigner(alg string, opts ...SignerOption) (*Signer, error) {
	spec := signerSpec{rsaBits: 2048}
	for _, o := range opts {
		o(&spec)
	}
	if spec.kid == "" {
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		spec.kid = strings.ToLower(alg) + "-" + hex.EncodeToString(b)
	}
	key := spec.key
	if key == nil {
		var err error
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			key, err = rsa.GenerateKey(rand.Reader, spec.rsaBits)
		case "ES256":
			key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		case "ES384":
			key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		case "ES512":
			key, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		case "EdDSA", "Ed25519":
			_, key, err = ed25519.GenerateKey(rand.Reader)
		case "HS256", "HS384", "HS512":
			secret := make([]byte, 64)
			_, err = rand.Read(secret)
			key = secret
		default:
			return nil, fmt.Errorf("authntest: unsupported alg %q", alg)
		}
		if err != nil {
			return nil, err
		}
	}
	return &Signer{alg: alg, kid: spec.kid, key: key}, nil
}

// Alg is the signing algorithm.
func (s *Signer) Alg() string { return s.alg }

// KID is the key id.
func (s *Signer) KID() string { return s.kid }

// Private is the private key (crypto.Signer) or HMAC secret ([]byte).
func (s *Signer) Private() any { return s.key }

// Public is the public key, or the HMAC secret for HS*.
func (s *Signer) Public() any {
	if cs, ok := s.key.(crypto.Signer); ok {
		return cs.Public()
	}
	return s.key
}

// Secret is the HMAC secret (nil for asymmetric signers).
func (s *Signer) Secret() []byte {
	b, _ := s.key.([]byte)
	return b
}

// PublicJWK returns the public key as a JWK with kid, alg and use "sig"
// (an "oct" JWK holding the secret for HS*: only for negative tests).
func (s *Signer) PublicJWK() (jwk.Key, error) {
	k, err := jwk.FromRaw(s.Public())
	if err != nil {
		return nil, err
	}
	return k, s.describe(k)
}

// PrivateJWK returns the private key as a JWK with kid, alg and use "sig"
// (for tests that publish private material by mistake, or hand the key to
// jwx directly).
func (s *Signer) PrivateJWK() (jwk.Key, error) {
	k, err := jwk.FromRaw(s.key)
	if err != nil {
		return nil, err
	}
	return k, s.describe(k)
}

func (s *Signer) describe(k jwk.Key) error {
	var alg jwa.SignatureAlgorithm
	if err := alg.Accept(s.alg); err != nil {
		return fmt.Errorf("authntest: unknown alg %q", s.alg)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: s.kid, jwk.AlgorithmKey: alg, jwk.KeyUsageKey: "sig"} {
		if err := k.Set(name, v); err != nil {
			return err
		}
	}
	return nil
}

// JWKMap returns PublicJWK as a plain map, to tamper with in tests (set
// "use" to "enc", drop "alg", …) before JWKSFromMaps.
func (s *Signer) JWKMap() (map[string]any, error) {
	if pub, ok := s.Public().(*rsa.PublicKey); ok {
		// Built by hand: jwx refuses to import RSA keys under 2048 bits, and
		// negative tests need to publish exactly such keys.
		return map[string]any{
			"kty": "RSA", "kid": s.kid, "alg": s.alg, "use": "sig",
			"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
		}, nil
	}
	k, err := s.PublicJWK()
	if err != nil {
		return nil, err
	}
	return jwkMap(k)
}

// jwkMap is k as the JSON object a key set or a DPoP proof header embeds.
func jwkMap(k jwk.Key) (map[string]any, error) {
	b, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// PublicKeyPEM returns the public key, PKIX PEM (asymmetric signers only).
func (s *Signer) PublicKeyPEM() ([]byte, error) { return PublicKeyPEM(s.Public()) }

// JWKS returns a JWK Set document with the public keys of signers.
func JWKS(signers ...*Signer) ([]byte, error) {
	maps := make([]map[string]any, 0, len(signers))
	for _, s := range signers {
		m, err := s.JWKMap()
		if err != nil {
			return nil, err
		}
		maps = append(maps, m)
	}
	return JWKSFromMaps(maps...)
}

// JWKSFromMaps returns {"keys": [keys...]}.
func JWKSFromMaps(keys ...map[string]any) ([]byte, error) {
	if keys == nil {
		keys = []map[string]any{}
	}
	return json.Marshal(map[string]any{"keys": keys})
}

// MintOption adjusts the header of a minted token.
type MintOption func(header map[string]any)

// WithHeader sets a protected header member; a nil value removes it. Setting
// "alg" changes what the header claims, not how the token is signed.
func WithHeader(name string, value any) MintOption {
	return func(h map[string]any) {
		if value == nil {
			delete(h, name)
		} else {
			h[name] = value
		}
	}
}

// WithoutKID removes the kid header.
func WithoutKID() MintOption { return WithHeader("kid", nil) }

// WithTyp sets the typ header ("JWT" by default).
func WithTyp(typ string) MintOption { return WithHeader("typ", typ) }

// Mint returns a compact JWS of claims signed by s. The header is
// {"alg": s.Alg(), "kid": s.KID(), "typ": "JWT"} adjusted by opts.
func (s *Signer) Mint(claims map[string]any, opts ...MintOption) (string, error) {
	h := map[string]any{"alg": s.alg, "kid": s.kid, "typ": "JWT"}
	for _, o := range opts {
		o(h)
	}
	return signRaw(h, claims, s.key, s.alg)
}

func signRaw(header, claims map[string]any, key any, alg string) (string, error) {
	hb, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64(hb) + "." + b64(cb)
	signer, err := jws.NewSigner(jwa.SignatureAlgorithm(alg))
	if err != nil {
		return "", fmt.Errorf("authntest: sign: %w", err)
	}
	sig, err := signer.Sign([]byte(input), key)
	if err != nil {
		return "", fmt.Errorf("authntest: sign: %w", err)
	}
	return input + "." + b64(sig), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Claims returns typical access-token claims: iss, aud, sub "alice", jti,
// iat and nbf at now, exp at now+ttl, scope "read write". aud may be a
// string or a []string.
func Claims(iss string, aud any, now time.Time, ttl time.Duration) map[string]any {
	jti := make([]byte, 8)
	_, _ = rand.Read(jti)
	return map[string]any{
		"iss":   iss,
		"aud":   aud,
		"sub":   "alice",
		"jti":   hex.EncodeToString(jti),
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(ttl).Unix(),
		"scope": "read write",
	}
}

// RawToken assembles a compact token from a header, claims and signature
// bytes, without signing: for hostile tokens of any shape.
func RawToken(header, claims map[string]any, signature []byte) string {
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	return b64(hb) + "." + b64(cb) + "." + b64(signature)
}

// Unsigned returns an unsecured JWT: {"alg":"none"} and an empty signature.
func Unsigned(claims map[string]any) string {
	return RawToken(map[string]any{"alg": "none", "typ": "JWT"}, claims, nil)
}

// HMACWithPublicKey returns the classic key-confusion token: HS256, keyed
// with the bytes of s's public key in PEM (as a verifier that takes the key
// material from its JWKS would), with s's kid.
func HMACWithPublicKey(s *Signer, claims map[string]any) (string, error) {
	pemBytes, err := s.PublicKeyPEM()
	if err != nil {
		return "", err
	}
	return signRaw(map[string]any{"alg": "HS256", "kid": s.kid, "typ": "JWT"}, claims, pemBytes, "HS256")
}

// TamperSignature flips one bit in the token's signature.
func TamperSignature(token string) string {
	i := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil || len(sig) == 0 {
		return token + "A"
	}
	sig[len(sig)/2] ^= 0x01
	return token[:i+1] + b64(sig)
}

// TamperPayload replaces the token's claims and keeps its header and
// signature.
func TamperPayload(token string, claims map[string]any) string {
	parts := strings.SplitN(token, ".", 3)
	cb, _ := json.Marshal(claims)
	return parts[0] + "." + b64(cb) + "." + parts[2]
}

// AllDots returns n dots: a token that splits into n+1 empty parts.
func AllDots(n int) string { return strings.Repeat(".", n) }

// Huge returns a JWS-shaped token of n bytes (three base64url parts).
func Huge(n int) string {
	if n < 5 {
		n = 5
	}
	body := n - 2
	a, b := body/3, body/3
	c := body - a - b
	return strings.Repeat("e", a) + "." + strings.Repeat("y", b) + "." + strings.Repeat("J", c)
}

// FakeJWE returns a token with the five-part shape of a JWE compact
// serialization.
func FakeJWE() string {
	h := b64([]byte(`{"alg":"RSA-OAEP-256","enc":"A256GCM"}`))
	return h + "." + b64([]byte("encrypted-key")) + "." + b64([]byte("iv")) + "." + b64([]byte("ciphertext")) + "." + b64([]byte("tag"))
}

// MintJSON signs a header and claims given as raw JSON text, for tokens
// whose JSON a map cannot express: duplicate members, invalid UTF-8.
func (s *Signer) MintJSON(header, claims string) (string, error) {
	input := b64([]byte(header)) + "." + b64([]byte(claims))
	signer, err := jws.NewSigner(jwa.SignatureAlgorithm(s.alg))
	if err != nil {
		return "", fmt.Errorf("authntest: sign: %w", err)
	}
	sig, err := signer.Sign([]byte(input), s.key)
	if err != nil {
		return "", fmt.Errorf("authntest: sign: %w", err)
	}
	return input + "." + b64(sig), nil
}
