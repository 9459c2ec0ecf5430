package dpop

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/authn/jose"
)

// Config configures a Verifier.
type Config struct {
	// Algorithms the proofs may use (DefaultAlgorithms when empty); only
	// asymmetric ones are allowed.
	Algorithms []string
	// MaxAge is how old a proof's iat may be (DefaultMaxAge when 0); the
	// replay cache keeps each jti that long.
	MaxAge time.Duration
	// Leeway is how far in the future iat may be (DefaultLeeway when 0).
	Leeway time.Duration
	// Replay records used proofs (an in-memory cache when nil).
	Replay Replay
	// Nonces, when set, makes every proof carry a server nonce (RFC 9449
	// §9); without one it is refused with use_dpop_nonce.
	Nonces *Nonces
	Now    func() time.Time
}

// Defaults of Config.
const (
	DefaultMaxAge = 60 * time.Second
	DefaultLeeway = 5 * time.Second
	// MaxMaxAge bounds MaxAge: a longer window only keeps stolen proofs
	// usable (for one use) and the replay cache large.
	MaxMaxAge = 10 * time.Minute
)

// Verifier checks the DPoP proof of each request. It is safe for
// concurrent use and caches nothing but used jti values.
type Verifier struct {
	algs           []string
	maxAge, leeway time.Duration
	replay         Replay
	nonces         *Nonces
	now            func() time.Time
}

// New builds a Verifier.
func New(cfg Config) (*Verifier, error) {
	v := &Verifier{algs: cfg.Algorithms, maxAge: cfg.MaxAge, leeway: cfg.Leeway, replay: cfg.Replay, nonces: cfg.Nonces, now: cfg.Now}
	if len(v.algs) == 0 {
		v.algs = DefaultAlgorithms
	}
	for _, a := range v.algs {
		if !slices.Contains(jose.AsymmetricAlgorithms, a) {
			return nil, fmt.Errorf("dpop: algorithm %q is not an asymmetric JWS algorithm (one of %s)", a, strings.Join(jose.AsymmetricAlgorithms, ", "))
		}
	}
	v.algs = slices.Clone(v.algs)
	if v.maxAge == 0 {
		v.maxAge = DefaultMaxAge
	}
	if v.maxAge < 0 || v.maxAge > MaxMaxAge {
		return nil, fmt.Errorf("dpop: max age %s is not within (0, %s]", v.maxAge, MaxMaxAge)
	}
	if v.leeway <= 0 {
		v.leeway = DefaultLeeway
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.replay == nil {
		v.replay = NewMemory(0, v.now)
	}
	return v, nil
}

// Algorithms are the accepted proof algorithms, for the challenge's algs.
func (v *Verifier) Algorithms() []string { return v.algs }

// Nonce returns a fresh server nonce, or "" when nonces are off.
func (v *Verifier) Nonce() string {
	if v.nonces == nil {
		return ""
	}
	return v.nonces.New()
}

// AccessTokenHash is the ath of a token: base64url SHA-256 of its bytes.
func AccessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Verify checks the request's DPoP proof for accessToken, which is bound
// to the key whose thumbprint is jkt (its cnf.jkt, verified by the
// token's issuer): exactly one DPoP header holding a proof that Parse
// accepts, whose htm is the request's method, htu the request's URI
// (NormalizeHTU, RequestHTU), iat within [now-MaxAge, now+Leeway], ath the
// token's hash, nonce valid when nonces are on, key thumbprint jkt, and
// jti not used before (recorded until iat+MaxAge+Leeway). Proof failures
// are *Error; a replay cache that cannot answer is another error.
func (v *Verifier) Verify(r *http.Request, accessToken, jkt string) error {
	vals := r.Header.Values("DPoP")
	switch {
	case len(vals) == 0:
		return invalid("no DPoP header")
	case len(vals) > 1:
		return invalid("more than one DPoP header")
	}
	p, err := Parse(vals[0], v.algs)
	if err != nil {
		return err
	}
	if p.HTM != r.Method {
		return invalid("htm does not match the request method")
	}
	htu, err := NormalizeHTU(p.HTU)
	if err != nil {
		return invalid(err.Error())
	}
	if htu != RequestHTU(r) {
		return invalid("htu does not match the request URI")
	}
	now := v.now()
	if p.IAT.Before(now.Add(-v.maxAge)) {
		return invalid("proof is too old (iat)")
	}
	if p.IAT.After(now.Add(v.leeway)) {
		return invalid("proof is issued in the future (iat)")
	}
	if p.ATH == "" {
		return invalid("ath is required with an access token")
	}
	if subtle.ConstantTimeCompare([]byte(p.ATH), []byte(AccessTokenHash(accessToken))) != 1 {
		return invalid("ath does not match the access token")
	}
	if v.nonces != nil && (p.Nonce == "" || !v.nonces.Valid(p.Nonce)) {
		return &Error{Code: CodeUseNonce, Detail: "a fresh server nonce is required"}
	}
	if subtle.ConstantTimeCompare([]byte(p.JKT), []byte(jkt)) != 1 {
		return invalid("proof key does not match the token's cnf.jkt")
	}
	fresh, err := v.replay.Use(r.Context(), replayKey(p.JKT, p.JTI), p.IAT.Add(v.maxAge+v.leeway))
	if err != nil {
		return err
	}
	if !fresh {
		return ErrReplayed
	}
	return nil
}
