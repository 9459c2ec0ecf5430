package authn

import (
	"context"
	"crypto"
	"crypto/sha1" //nolint:gosec // x5t is defined as a SHA-1 thumbprint (RFC 7515 §4.1.7); used as a key id only
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"

	"github.com/hashicorp/go-hclog"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse/gatehouse/authn/jose"
)

// ErrUnknownKey is returned by a KeySource that has no key for a token's kid
// (or, for a token without kid, no single key to use). The JWT authenticator
// maps it to Rejection unknown_key; any other KeySource error is a technical
// failure (503).
var ErrUnknownKey = errors.New("authn: unknown key")

var errNoKeySource = errors.New("authn: issuer has no key source")

// MinRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3, §3.5).
const MinRSABits = jose.MinRSABits

// KeySource gives an issuer's verification keys: StaticKeys serves keys
// loaded from files, RemoteJWKS a key set fetched over HTTPS (refresh,
// rotation, stale-if-error; jwks.go). Implementations must be safe for
// concurrent use and must only ever return keys of their own issuer.
type KeySource interface {
	// Key returns the key named kid, preferably one that may verify alg
	// (the caller checks VerificationKey.Allows). When kid is empty (the
	// token names no key) a source returns its only key if it has exactly
	// one. It returns ErrUnknownKey (possibly wrapped) when it has no such
	// key; a remote source may refetch first, ctx bounds that.
	Key(ctx context.Context, kid, alg string) (*VerificationKey, error)
}

// VerificationKey is one key an issuer signs tokens with.
type VerificationKey struct {
	// ID is the key id (JWK kid), possibly empty.
	ID string
	// Algorithms lists the JWS algorithms this key may verify: the JWK's
	// "alg" if it has one, else every algorithm its type and size allow.
	Algorithms []string
	// Public is *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey, or a
	// []byte HMAC secret.
	Public any
	// Thumbprint is the RFC 7638 SHA-256 thumbprint (base64url): safe to
	// log, never the key.
	Thumbprint string
}

// Allows reports whether the key may verify alg.
func (k *VerificationKey) Allows(alg string) bool { return slices.Contains(k.Algorithms, alg) }

// NewVerificationKey checks pub and returns a key that may verify alg (or,
// with alg empty, every algorithm its type allows). It refuses RSA keys
// under MinRSABits, curves other than P-256/P-384/P-521 and Ed25519, private
// keys, HMAC secrets (use Issuer.Secret), and an alg the key cannot do.
func NewVerificationKey(kid string, pub crypto.PublicKey, alg string) (*VerificationKey, error) {
	algs, err := jose.KeyAlgorithms(pub)
	if err != nil {
		return nil, err
	}
	if alg != "" {
		if !slices.Contains(algs, alg) {
			return nil, fmt.Errorf("key type cannot do alg %q", alg)
		}
		algs = []string{alg}
	}
	tp, err := jose.Thumbprint(pub)
	if err != nil {
		return nil, err
	}
	return &VerificationKey{ID: kid, Algorithms: algs, Public: pub, Thumbprint: tp}, nil
}

// StaticKeys is a KeySource over a fixed set of keys (a JWKS file, PEM
// certificates or public keys, or an HMAC secret).
type StaticKeys struct {
	keys []*VerificationKey
	byID map[string][]*VerificationKey
	// anyKid: the keys came without key ids (PEM) and there is exactly one;
	// it verifies tokens whatever kid they name.
	anyKid bool
}

var _ KeySource = (*StaticKeys)(nil)

// NewStaticKeys returns a source over keys. Tokens select a key by kid; a
// token without kid uses the only key when there is exactly one.
func NewStaticKeys(keys ...*VerificationKey) (*StaticKeys, error) {
	if len(keys) == 0 {
		return nil, errors.New("no usable keys")
	}
	s := &StaticKeys{keys: keys, byID: map[string][]*VerificationKey{}}
	for _, k := range keys {
		if k.ID != "" {
			s.byID[k.ID] = append(s.byID[k.ID], k)
		}
	}
	return s, nil
}

// Keys returns the keys of the source.
func (s *StaticKeys) Keys() []*VerificationKey { return slices.Clone(s.keys) }

// Key implements KeySource. Among keys named kid it prefers one that allows
// alg; if none does it still returns one, and the caller's Allows check
// rejects the token (a known key misused is not an unknown key).
func (s *StaticKeys) Key(_ context.Context, kid, alg string) (*VerificationKey, error) {
	if s == nil {
		return nil, errNoKeySource // a technical failure: fail closed
	}
	if kid != "" {
		if ks := s.byID[kid]; len(ks) > 0 {
			for _, k := range ks {
				if k.Allows(alg) {
					return k, nil
				}
			}
			return ks[0], nil
		}
		if !s.anyKid {
			return nil, ErrUnknownKey
		}
	}
	if len(s.keys) == 1 {
		return s.keys[0], nil
	}
	return nil, ErrUnknownKey
}

// jwkFields are the JWK members checked before a key is used (RFC 7517 §4).
type jwkFields struct {
	Kty    string
	Use    string
	KeyOps []string
	Alg    string
	Kid    string
	// Private: the key holds private material (d, p, q, dp, dq, qi, oth).
	Private bool
}

// decodeJWKFields reads the members by their exact names (jwx does too;
// encoding/json's case-insensitive struct matching would let
// {"use":"enc","USE":"sig"} be read one way here and another way there).
// A member of the wrong type is an error.
func decodeJWKFields(raw []byte) (jwkFields, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return jwkFields{}, errors.New("not a JSON object")
	}
	var f jwkFields
	for name, dst := range map[string]*string{"kty": &f.Kty, "use": &f.Use, "alg": &f.Alg, "kid": &f.Kid} {
		if v, ok := m[name]; ok && json.Unmarshal(v, dst) != nil {
			return jwkFields{}, fmt.Errorf("%s is not a string", name)
		}
	}
	if v, ok := m["key_ops"]; ok {
		if json.Unmarshal(v, &f.KeyOps) != nil || f.KeyOps == nil {
			return jwkFields{}, errors.New("key_ops is not an array of strings")
		}
	}
	for _, name := range []string{"d", "p", "q", "dp", "dq", "qi", "oth"} {
		if _, ok := m[name]; ok {
			f.Private = true
		}
	}
	return f, nil
}

// ParseJWKS reads a JWK Set (RFC 7517 §5). Keys that must not verify
// signatures are skipped with a warning naming their kid and the reason:
// `oct` (shared secrets never come from a JWKS), `use` other than "sig",
// `key_ops` without "verify", an `alg` the key type cannot do or that is not
// a signature algorithm, RSA under 2048 bits, unsupported curves, keys that
// do not parse, keys with private material (d, p, q…: the key server is
// compromised or misconfigured). Duplicate member names or invalid UTF-8
// anywhere refuse the whole set (jose.CheckJSON). It is an error when no
// usable key remains. logger may be nil.
func ParseJWKS(data []byte, logger hclog.Logger) (*StaticKeys, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	set, err := jwksMembers(data)
	if err != nil {
		return nil, err
	}
	var keys []*VerificationKey
	for i, raw := range set {
		k, err := parseJWK(raw, logger)
		if err != nil {
			var f struct{ Kid, Kty any } // best effort, for the log line only
			_ = json.Unmarshal(raw, &f)
			kid, _ := f.Kid.(string)
			kty, _ := f.Kty.(string)
			logger.Warn("jwks key skipped", "index", i, "kid", kid, "kty", kty, "reason", err.Error())
			continue
		}
		keys = append(keys, k)
	}
	s, err := NewStaticKeys(keys...)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return s, nil
}

// LoadJWKSFile reads a JWK Set from a file; see ParseJWKS.
func LoadJWKSFile(path string, logger hclog.Logger) (*StaticKeys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseJWKS(data, logger)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// jwksMembers returns the elements of a JWK Set's "keys" member (exact
// name; a set without it is empty).
func jwksMembers(data []byte) ([]json.RawMessage, error) {
	if err := jose.CheckJSON(data); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, errors.New("jwks: not a JSON JWK Set")
	}
	var keys []json.RawMessage
	if v, ok := m["keys"]; ok && json.Unmarshal(v, &keys) != nil {
		return nil, errors.New("jwks: keys is not an array")
	}
	return keys, nil
}

func parseJWK(raw []byte, logger hclog.Logger) (k *VerificationKey, err error) {
	// Keys come from the network: a panic in a parsing library (seen with
	// jwx and EC coordinates larger than the field) must reject the key,
	// never crash the refresher's goroutine.
	defer func() {
		if p := recover(); p != nil {
			k, err = nil, errors.New("key does not parse")
		}
	}()
	f, err := decodeJWKFields(raw)
	if err != nil {
		return nil, err
	}
	switch f.Kty {
	case "RSA", "EC", "OKP":
	case "oct":
		return nil, errors.New("symmetric (oct) keys are never taken from a JWKS")
	default:
		return nil, fmt.Errorf("unsupported kty %q", f.Kty)
	}
	if f.Use != "" && f.Use != "sig" {
		return nil, fmt.Errorf("use %q is not \"sig\"", f.Use)
	}
	if f.KeyOps != nil && !slices.Contains(f.KeyOps, "verify") {
		return nil, errors.New("key_ops does not include \"verify\"")
	}
	if f.Alg != "" && !jose.KnownAlgorithm(f.Alg) {
		return nil, fmt.Errorf("alg %q is not an accepted signature algorithm", f.Alg)
	}
	if f.Private {
		// A key server that publishes private keys is compromised or
		// misconfigured: nothing it signs can be told from a forgery.
		return nil, errors.New("key holds private key material (d, p or q): a key set must publish public keys only")
	}
	jk, err := jwk.ParseKey(raw)
	if err != nil {
		if bits := rsaModulusBits(raw); f.Kty == "RSA" && bits > 0 && bits < MinRSABits {
			return nil, fmt.Errorf("RSA key of %d bits is below the minimum of %d", bits, MinRSABits)
		}
		return nil, errors.New("key does not parse")
	}

	var pub any
	if err := jk.Raw(&pub); err != nil {
		return nil, errors.New("key does not export")
	}
	return NewVerificationKey(f.Kid, pub, f.Alg)
}

// rsaModulusBits returns the size of an RSA JWK's modulus, 0 if unreadable.
func rsaModulusBits(raw []byte) int {
	var f struct {
		N string `json:"n"`
	}
	if json.Unmarshal(raw, &f) != nil {
		return 0
	}
	n, err := base64.RawURLEncoding.DecodeString(f.N)
	if err != nil || len(n) == 0 {
		return 0
	}
	return new(big.Int).SetBytes(n).BitLen()
}

// ParsePEMKeys reads PEM blocks: CERTIFICATE (its public key is used;
// validity dates are not checked, as IdPs publish self-signed certificates)
// and PUBLIC KEY (PKIX). Other block types are errors, so a private key
// pasted by mistake is refused. PEM keys carry no kid: each is reachable by
// its RFC 7638 thumbprint and, for certificates, by the base64url SHA-1
// (x5t) and SHA-256 (x5t#S256) of the certificate; a source with exactly one
// key uses it whatever kid a token names.
func ParsePEMKeys(data []byte) (*StaticKeys, error) {
	var keys []*VerificationKey
	aliases := map[*VerificationKey][]string{}
	for n := 1; ; n++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		var pub any
		var als []string
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d: invalid certificate", n)
			}
			pub = c.PublicKey
			s1, s256 := sha1.Sum(c.Raw), sha256.Sum256(c.Raw) //nolint:gosec // x5t
			als = []string{base64.RawURLEncoding.EncodeToString(s1[:]), base64.RawURLEncoding.EncodeToString(s256[:])}
		case "PUBLIC KEY":
			p, err := x509.ParsePKIXPublicKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d: invalid public key", n)
			}
			pub = p
		default:
			return nil, fmt.Errorf("PEM block %d: type %q is not CERTIFICATE or PUBLIC KEY", n, b.Type)
		}
		k, err := NewVerificationKey("", pub, "")
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		k.ID = k.Thumbprint
		keys = append(keys, k)
		aliases[k] = als
	}
	s, err := NewStaticKeys(keys...)
	if err != nil {
		return nil, errors.New("no CERTIFICATE or PUBLIC KEY PEM blocks")
	}
	for k, als := range aliases {
		for _, a := range als {
			s.byID[a] = append(s.byID[a], k)
		}
	}
	s.anyKid = len(keys) == 1
	return s, nil
}

// LoadPEMFiles reads certificates and public keys from PEM files; see
// ParsePEMKeys.
func LoadPEMFiles(paths ...string) (*StaticKeys, error) {
	var all []byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if _, err := ParsePEMKeys(data); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		all = append(append(all, data...), '\n')
	}
	return ParsePEMKeys(all)
}

// hmacKeys returns the source for an issuer's shared secret.
func hmacKeys(secret []byte) (*StaticKeys, []string, error) {
	var algs []string
	for _, a := range []struct {
		alg string
		n   int
	}{{"HS256", 32}, {"HS384", 48}, {"HS512", 64}} {
		if len(secret) >= a.n {
			algs = append(algs, a.alg)
		}
	}
	if len(algs) == 0 {
		return nil, nil, fmt.Errorf("shared secret of %d bytes is shorter than the minimum of 32", len(secret))
	}
	k := &VerificationKey{Algorithms: algs, Public: secret, Thumbprint: "hmac:" + CredentialID(string(secret))[:8]}
	s, err := NewStaticKeys(k)
	if err != nil {
		return nil, nil, err
	}
	s.anyKid = true
	return s, algs, nil
}
