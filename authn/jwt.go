package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/authn/jose"
)

// JWT authenticates bearer tokens that are JWTs (RFC 7519, JWS compact
// serialization) from a fixed set of trusted issuers, following RFC 8725:
//
//  1. Exactly one Authorization header, scheme "Bearer" (any case), a token68
//     of at most WithMaxTokenSize bytes (16 KB by default).
//  2. Verified-token cache lookup by SHA-256 of the token.
//  3. Shape: a JWT has exactly two dots, three base64url parts (no
//     padding) and a first part that decodes to a JSON object with "alg".
//     Five base64url parts is a JWE (unsupported_credential). Any other
//     token68 — opaque tokens, Google-style "ya29.…" — is not ours
//     (ErrNotJWT, for key managers); anything else is malformed.
//  4. Header: `alg` must be in the allow-list of some issuer of the scheme
//     ("none" never is); `crit` is refused (no extension is understood);
//     `b64` is refused; `jku`, `x5u`, `jwk`, `x5c` are ignored — nothing is
//     ever fetched or trusted from a token.
//  5. The issuer is picked by the payload's unverified `iss`, exactly; an
//     unknown iss is rejected before any key lookup (unknown_issuer).
//  6. That issuer's allow-list must contain `alg`; the key comes from that
//     issuer's KeySource only (by kid; a token without kid uses the issuer's
//     only key), and must itself allow `alg` (a JWK's "alg", its type and
//     curve). The signature is verified with that key and algorithm.
//  7. Claims, checked before the key lookup so that malformed, expired or
//     misaddressed tokens never make a remote key source fetch: exp
//     required; exp, nbf, iat with the issuer's leeway; aud must hold a
//     configured audience; max lifetime; required claims; typ allow-list.
//
// Rejection reasons: malformed (shape, base64, JSON, claim types, oversize),
// invalid_signature (algorithm not allowed, or the signature does not
// verify), unknown_issuer, unknown_key, expired, not_yet_valid,
// audience_mismatch, invalid_credentials (exp missing, lifetime too long,
// required claim missing, typ not allowed), unsupported_credential (JWE,
// crit), ambiguous_credentials (two Authorization headers). KeySource errors
// other than ErrUnknownKey are technical failures.
//
// Identity.Claims() returns every claim of the verified payload as decoded by
// encoding/json with UseNumber: objects are map[string]any, arrays []any,
// numbers json.Number (never float64), so large integers survive intact.
//
// Verified identities are cached until min(exp, now + cache TTL); for keys
// from a RotatingKeySource (remote JWKS) a hit also requires the source to
// still hold the verifying key, so removing a key from the JWKS invalidates
// its cached tokens at the next refresh (≤ the refresh interval). The cache
// belongs to this authenticator and so to its fixed set of issuers: an entry
// can only have been verified by one of them, and iss binds a token to one
// issuer. A new configuration generation builds new authenticators and
// caches. Failures are not cached, with one exception: a token whose
// signature did not verify is remembered (forged, jwt_forged.go) so that
// the same forged token sent again costs a lookup, not an RSA operation.
type JWT struct {
	scheme       string
	issuers      []*issuer
	byIss        map[string]*issuer
	policy       jose.Policy // header rules: the union of the issuers' allow-lists
	cache        *Cache[jwtEntry]
	forged       *Cache[forgedEntry]
	cacheTTL     time.Duration
	now          func() time.Time
	maxTokenSize int
	realm        string
}

var _ Authenticator = (*JWT)(nil)

// ErrNotJWT reports a bearer token that is a token68 but not a JWS compact
// serialization (see JWT, step 3): an opaque token. It wraps ErrNoCredentials —
// errors.Is(ErrNotJWT, ErrNoCredentials) is true — so to a caller that knows
// only the three outcomes the JWT scheme simply has no credential; a caller
// that can route opaque tokens to key managers (introspection, the internal
// key manager) tests errors.Is(err, ErrNotJWT) first. Compare with
// errors.Is, never ==.
var ErrNotJWT = fmt.Errorf("authn: bearer token is not a JWT: %w", ErrNoCredentials)

// NewJWT returns the bearer JWT authenticator of the OpenAPI security scheme
// named scheme, trusting issuers. Options used: WithClock, WithLogger,
// WithCacheSize, WithCacheTTL, WithMaxTokenSize, WithRealm.
func NewJWT(scheme string, issuers []*Issuer, opts ...Option) (*JWT, error) {
	if len(issuers) == 0 {
		return nil, fmt.Errorf("authn: bearer scheme %q has no issuers", scheme)
	}
	o := buildOptions(opts)
	j := &JWT{
		scheme:       scheme,
		byIss:        map[string]*issuer{},
		cacheTTL:     o.cacheTTL,
		now:          o.now,
		maxTokenSize: o.maxTokenSize,
		realm:        o.realm,
	}
	if j.realm == "" {
		j.realm = scheme
	}
	names := map[string]bool{}
	for _, cfg := range issuers {
		is, err := compileIssuer(cfg)
		if err != nil {
			return nil, fmt.Errorf("authn: bearer scheme %q: %w", scheme, err)
		}
		if names[is.name] {
			return nil, fmt.Errorf("authn: bearer scheme %q: issuer %q is listed twice", scheme, is.name)
		}
		if other, dup := j.byIss[is.iss]; dup {
			return nil, fmt.Errorf("authn: bearer scheme %q: issuers %q and %q have the same iss %q; their keys would be pooled", scheme, other.name, is.name, is.iss)
		}
		names[is.name] = true
		j.byIss[is.iss] = is
		j.issuers = append(j.issuers, is)
		j.policy.Algorithms = append(j.policy.Algorithms, is.algs...)
		o.logger.Debug("issuer configured", "scheme", scheme, "issuer", is.name, "iss", is.iss, "algorithms", is.algs)
	}
	j.policy.Algorithms = SortedUnique(j.policy.Algorithms)
	if j.cacheTTL > 0 {
		j.cache = NewCache[jwtEntry](o.cacheSize, o.now)
		j.forged = NewCache[forgedEntry](forgedCacheSize, o.now)
	}
	return j, nil
}

// Scheme is the OpenAPI securityScheme name.
func (j *JWT) Scheme() string { return j.scheme }

// CacheStats reports the verified-token cache's hits and misses.
func (j *JWT) CacheStats() (hits, misses uint64) { return j.cache.Stats() }

// Authenticate verifies the request's bearer JWT. See the type comment.
func (j *JWT) Authenticate(r *http.Request) (*Identity, error) {
	tok, err := authorizationFor(r, j.scheme, "Bearer", j.maxTokenSize+64)
	if err != nil {
		return nil, err
	}
	id, err := j.Verify(r.Context(), tok)
	if err == nil && id.DPoPKey != "" {
		// Only a Bearer with DPoP on checks proofs (confirmation.go).
		return nil, Reject(j.scheme, ReasonInvalidCredentials, "a DPoP-bound token (cnf.jkt) needs a DPoP proof", nil)
	}
	return id, err
}

// Verify verifies a raw token as Authenticate does, for callers that have
// already taken it out of the request (explain, key-manager routing).
func (j *JWT) Verify(ctx context.Context, token string) (*Identity, error) {
	if len(token) > j.maxTokenSize {
		return nil, Reject(j.scheme, ReasonMalformed, "token too long", nil)
	}
	// The digest keys the caches and is the identity's credential id, so
	// it is computed once, cache or not.
	key := CacheKeyOf(token)
	if j.cache != nil {
		if e, ok := j.cache.Get(key); ok {
			// A rotating source (remote JWKS) must still hold the key
			// that verified the token: a key removed from the JWKS stops
			// validating cached tokens at the refresh that removes it.
			if e.src == nil || e.src.Holds(e.key) {
				return e.id, nil
			}
			j.cache.Delete(key)
		}
		if err, ok := j.forgedAgain(key); ok {
			return nil, err
		}
	}
	id, is, vk, err := j.verify(ctx, token, key)
	if err != nil {
		if vk != nil {
			j.rememberForged(key, is, vk, err)
		}
		return nil, err
	}
	if ttl := j.ttlFor(is); ttl > 0 {
		exp := j.now().Add(ttl)
		if id.ExpiresAt.Before(exp) {
			exp = id.ExpiresAt
		}
		j.cache.Put(key, jwtEntry{id: id, src: is.rotating, key: vk}, exp)
	}
	return id, nil
}

// jwtEntry is a verified-token cache entry: the identity, and for keys from
// a rotating source the source and key that verified it.
type jwtEntry struct {
	id  *Identity
	src RotatingKeySource
	key *VerificationKey
}

func (j *JWT) ttlFor(is *issuer) time.Duration {
	if j.cache == nil || is.cacheTTL < 0 {
		return 0
	}
	if is.cacheTTL > 0 {
		return is.cacheTTL
	}
	return j.cacheTTL
}

func (j *JWT) reject(reason Reason, detail string) (*Identity, *issuer, *VerificationKey, error) {
	return nil, nil, nil, Reject(j.scheme, reason, detail, nil)
}

// notJWT answers for a token that is not a JWS compact serialization: a
// token68 is someone else's (ErrNotJWT: an opaque token for a key manager),
// anything else is malformed.
func (j *JWT) notJWT(token string) (*Identity, *issuer, *VerificationKey, error) {
	if IsToken68(token) {
		return nil, nil, nil, ErrNotJWT
	}
	return j.reject(ReasonMalformed, "not a token68")
}

func (j *JWT) verify(ctx context.Context, token string, digest CacheKey) (*Identity, *issuer, *VerificationKey, error) {
	// The header rules (the union of the issuers' algorithms, crit, b64)
	// are jose's; the issuer's own allow-list is checked once iss picks it.
	tok, err := j.policy.Parse([]byte(token))
	switch {
	case errors.Is(err, jose.ErrNotJWS), errors.Is(err, jose.ErrNotJOSE):
		return j.notJWT(token)
	case err != nil:
		return nil, nil, nil, joseRejection(j.scheme, err)
	}
	hdr, claims := &tok.Header, tok.Claims
	if apiKeyMarked(hdr, claims) {
		return j.reject(ReasonInvalidCredentials, "an API key is not an access token")
	}
	iss, present := claims["iss"]
	issStr, isStr := iss.(string)
	switch {
	case !present:
		return j.reject(ReasonUnknownIssuer, "token has no iss")
	case !isStr:
		return j.reject(ReasonMalformed, "iss is not a string")
	}
	is := j.byIss[issStr]
	if is == nil {
		return j.reject(ReasonUnknownIssuer, j.untrustedIssuer(issStr))
	}
	if !slices.Contains(is.algs, hdr.Alg) {
		return j.reject(ReasonInvalidSignature, "algorithm not allowed for issuer "+is.name)
	}
	// Claims first: an expired or misaddressed token must never make a
	// remote key source fetch. The claims are not trusted until the
	// signature verifies; a forged token may so be rejected for a claim.
	times, ce := is.validate(claims, hdr, j.now())
	if ce != nil {
		return j.reject(ce.reason, ce.detail)
	}
	key, err := is.keys.Key(ctx, hdr.Kid, hdr.Alg)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			return j.reject(ReasonUnknownKey, "no key of issuer "+is.name+" matches the token's kid")
		}
		return nil, nil, nil, fmt.Errorf("authn: %s: keys of issuer %s: %w", j.scheme, is.name, err)
	}
	if !key.Allows(hdr.Alg) {
		return j.reject(ReasonInvalidSignature, "key does not allow the token's algorithm")
	}
	if err := tok.Verify(key.Public, hdr.Alg); err != nil {
		// The issuer and key come back with the error: Verify remembers
		// a token this key refused (rememberForged).
		return nil, is, key, joseRejection(j.scheme, err)
	}
	return is.identity(j.scheme, digest, claims, times), is, key, nil
}

// Challenge is the WWW-Authenticate value for this scheme without error
// parameters: `Bearer realm="<realm>"` (the realm defaults to the scheme name).
func (j *JWT) Challenge() string { return BearerChallenge(j.realm, "", "") }

// ChallengeScheme is the auth-scheme of the challenge: "Bearer".
func (j *JWT) ChallengeScheme() string { return "Bearer" }

// BearerChallenge returns an RFC 6750 §3 challenge: `Bearer realm="…"`, plus
// `error="…"` and `error_description="…"` when not empty (e.g.
// "invalid_token", "insufficient_scope"). Quotes and backslashes are escaped,
// control characters dropped.
func BearerChallenge(realm, errCode, description string) string {
	var sb strings.Builder
	sb.WriteString(`Bearer realm="`)
	writeQuoted(&sb, realm)
	sb.WriteByte('"')
	if errCode != "" {
		sb.WriteString(`, error="`)
		writeQuoted(&sb, errCode)
		sb.WriteByte('"')
	}
	if description != "" {
		sb.WriteString(`, error_description="`)
		writeQuoted(&sb, description)
		sb.WriteByte('"')
	}
	return sb.String()
}

// untrustedIssuer is the log detail of an iss no issuer of this scheme has:
// the token's iss (clipped; an iss is not a secret, but it is attacker
// input) and the configured ones, so the classic trailing-slash mismatch is
// visible in one log line. Never the token itself.
func (j *JWT) untrustedIssuer(iss string) string {
	const maxLen = 128
	shown := iss
	if len(shown) > maxLen {
		shown = strings.ToValidUTF8(shown[:maxLen], "") + "…"
	}
	trusted := make([]string, 0, len(j.issuers))
	hint := ""
	for _, is := range j.issuers {
		trusted = append(trusted, strconv.Quote(is.iss))
		if iss != is.iss && strings.TrimSuffix(iss, "/") == strings.TrimSuffix(is.iss, "/") {
			hint = "; it differs from " + strconv.Quote(is.iss) + " only by a trailing slash"
		}
	}
	return "iss " + strconv.Quote(shown) + " is not a trusted issuer of this scheme (trusted: " + strings.Join(trusted, ", ") + ")" + hint
}
