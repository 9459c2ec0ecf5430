package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/authn/jose"
)

// API keys issued by the gateway's own security token service are JWTs that
// can never be mistaken for access tokens, nor access tokens for them: they
// carry BOTH the JOSE header typ APIKeyTyp and the claim
// APIKeyUseClaim = APIKeyUseValue. The API key authenticator requires both;
// the bearer JWT authenticator rejects a token that has either.
const (
	// APIKeyTyp is the JOSE "typ" header of a gateway API key.
	APIKeyTyp = "gatehouse-apikey+jwt"
	// APIKeyUseClaim is the claim that marks a JWT as an API key.
	APIKeyUseClaim = "token_use"
	// APIKeyUseValue is its value.
	APIKeyUseValue = "gatehouse_api_key"
	// AllAPIs is the API name that stands for every API.
	AllAPIs = "*"
	// DefaultMaxAPIKeySize is the longest API key accepted, in bytes.
	DefaultMaxAPIKeySize = 8 << 10
)

// APIKeyAlgorithms are the JWS algorithms API keys are signed and verified
// with: what the token service can sign with.
var APIKeyAlgorithms = slices.Clone(jose.SigningAlgorithms)

// APIKeyIssuer configures the verification of API keys issued by the
// gateway's token service (or by another replica's: only public keys are
// needed). Like Issuer, it is plain configuration, copied by NewAPIKey.
type APIKeyIssuer struct {
	// Name identifies the token service in identities (Identity.Source).
	Name string
	// Issuer is the exact iss of its keys.
	Issuer string
	// Keys are the verification keys: the signing key's public half plus
	// any others still valid during a rotation.
	Keys KeySource
	// Algorithms allowed (APIKeyAlgorithms when empty).
	Algorithms []string
	// Leeway on exp and iat (DefaultLeeway when nil, at most MaxLeeway).
	Leeway *time.Duration
	// AllowNoExpiry accepts keys without exp. Off by default: a key
	// without exp is rejected (invalid_credentials).
	AllowNoExpiry bool
}

// APIKeyConfig configures an APIKey authenticator.
type APIKeyConfig struct {
	// Location is where the scheme's key is read (the OpenAPI scheme's in
	// and name).
	Location APIKeyLocation
	// Issuer verifies keys issued by the token service; nil accepts none.
	Issuer *APIKeyIssuer
	// Static returns the static (hashed) keys of the current bundle data;
	// nil, or returning nil, means none. It is called per request, so it
	// must be cheap (an atomic load).
	Static func() *StaticAPIKeys
	// SubscriptionValidation marks every key this scheme verifies (issued
	// and static) with subscription_validation, so the subscription rules
	// require the key's application to be subscribed to the API called.
	SubscriptionValidation bool
}

// APIKey authenticates API keys (an OpenAPI apiKey scheme) wherever the
// scheme puts them — a header, a query parameter or a cookie, under the
// scheme's own name. A key is either
//
//   - a static key listed by SHA-256 in bundle data (StaticAPIKeys): looked
//     up by its digest, compared in constant time; or
//   - a self-contained JWT issued by the gateway's token service: typ
//     APIKeyTyp, claim token_use=gatehouse_api_key, the configured iss, a
//     signature by one of the service's keys (by kid), an allowed alg, exp
//     unless AllowNoExpiry, and an "apis" claim.
//
// Outcomes: the location carries no key: ErrNoCredentials. It carries more
// than one (two headers, the parameter twice): ambiguous_credentials. An
// empty or oversized key, or a JWT that does not parse: malformed. Not a
// JWT and not a static key: invalid_credentials. A JWT that is not an API
// key (no typ or marker): invalid_credentials. Otherwise the JWT reasons:
// unknown_issuer, unknown_key, invalid_signature, expired, not_yet_valid.
//
// Verified JWT keys are cached by SHA-256 until min(exp, now + cache TTL);
// static keys need no cache (one digest and one map lookup). Whether a key
// may call the API at hand, and revocation, are for the policy: the identity
// carries APIs, Application, Plan and TokenID (jti, or the static key's id).
type APIKey struct {
	scheme   string
	loc      APIKeyLocation
	issuer   *apiKeyIssuer
	static   func() *StaticAPIKeys
	subVal   bool
	cache    *Cache[*Identity]
	cacheTTL time.Duration
	now      func() time.Time
	maxSize  int
}

var _ Authenticator = (*APIKey)(nil)

type apiKeyIssuer struct {
	name, iss     string
	keys          KeySource
	policy        jose.Policy // algorithms, and typ APIKeyTyp
	leeway        time.Duration
	allowNoExpiry bool
}

// NewAPIKey returns the API key authenticator of the OpenAPI security scheme
// named scheme. Options used: WithClock, WithCacheSize, WithCacheTTL,
// WithMaxTokenSize (DefaultMaxAPIKeySize by default).
func NewAPIKey(scheme string, cfg APIKeyConfig, opts ...Option) (*APIKey, error) {
	if err := cfg.Location.Validate(); err != nil {
		return nil, fmt.Errorf("authn: api key scheme %q: %w", scheme, err)
	}
	if cfg.Location.In == InHeader {
		// Canonical once, so reading the header allocates nothing.
		cfg.Location.Name = textproto.CanonicalMIMEHeaderKey(cfg.Location.Name)
	}
	o := buildOptions(opts)
	a := &APIKey{
		scheme:   scheme,
		loc:      cfg.Location,
		static:   cfg.Static,
		subVal:   cfg.SubscriptionValidation,
		cacheTTL: o.cacheTTL,
		now:      o.now,
		maxSize:  DefaultMaxAPIKeySize,
	}
	if o.maxTokenSize != DefaultMaxTokenSize {
		a.maxSize = o.maxTokenSize
	}
	if cfg.Issuer != nil {
		is, err := compileAPIKeyIssuer(cfg.Issuer)
		if err != nil {
			return nil, fmt.Errorf("authn: api key scheme %q: %w", scheme, err)
		}
		a.issuer = is
	}
	if a.cacheTTL > 0 && a.issuer != nil {
		a.cache = NewCache[*Identity](o.cacheSize, o.now)
	}
	return a, nil
}

func compileAPIKeyIssuer(cfg *APIKeyIssuer) (*apiKeyIssuer, error) {
	switch {
	case cfg.Name == "":
		return nil, errors.New("api key issuer: name is required")
	case cfg.Issuer == "":
		return nil, errors.New("api key issuer: issuer (the exact iss) is required")
	case cfg.Keys == nil:
		return nil, errors.New("api key issuer: no verification keys")
	}
	is := &apiKeyIssuer{name: cfg.Name, iss: cfg.Issuer, keys: cfg.Keys, leeway: DefaultLeeway, allowNoExpiry: cfg.AllowNoExpiry}
	is.policy = jose.Policy{Algorithms: slices.Clone(APIKeyAlgorithms), Typ: APIKeyTyp, TypDetail: "not an API key (typ)"}
	if len(cfg.Algorithms) > 0 {
		is.policy.Algorithms = nil
		for _, alg := range cfg.Algorithms {
			if !slices.Contains(APIKeyAlgorithms, alg) {
				return nil, fmt.Errorf("api key issuer: algorithm %q is not one of %v", alg, APIKeyAlgorithms)
			}
			is.policy.Algorithms = append(is.policy.Algorithms, alg)
		}
	}
	if cfg.Leeway != nil {
		if *cfg.Leeway < 0 || *cfg.Leeway > MaxLeeway {
			return nil, fmt.Errorf("api key issuer: leeway %s is outside 0s..%s", *cfg.Leeway, MaxLeeway)
		}
		is.leeway = *cfg.Leeway
	}
	return is, nil
}

// Scheme is the OpenAPI securityScheme name.
func (a *APIKey) Scheme() string { return a.scheme }

// Location is where this scheme reads its key.
func (a *APIKey) Location() APIKeyLocation { return a.loc }

// CacheStats reports the verified-key cache's hits and misses.
func (a *APIKey) CacheStats() (hits, misses uint64) { return a.cache.Stats() }

// Authenticate verifies the API key of the request. See the type comment.
func (a *APIKey) Authenticate(r *http.Request) (*Identity, error) {
	key, err := a.loc.single(r, a.scheme)
	if err != nil {
		return nil, err
	}
	return a.Verify(r.Context(), key)
}

// Verify verifies a raw key as Authenticate does.
func (a *APIKey) Verify(ctx context.Context, key string) (*Identity, error) {
	if key == "" {
		return nil, Reject(a.scheme, ReasonMalformed, "empty API key", nil)
	}
	if len(key) > a.maxSize {
		return nil, Reject(a.scheme, ReasonMalformed, "API key too long", nil)
	}
	// The digest is both the cache key and the static-key lookup key.
	digest := CacheKeyOf(key)
	if a.static != nil {
		if s := a.static(); s != nil {
			if id := s.lookup(digest, a.scheme, a.subVal); id != nil {
				return id, nil
			}
		}
	}
	if id, ok := a.cache.Get(digest); ok {
		return id, nil
	}
	if a.issuer == nil {
		return nil, Reject(a.scheme, ReasonInvalidCredentials, "unknown API key", nil)
	}
	id, err := a.verifyJWT(ctx, key, digest)
	if err != nil {
		return nil, err
	}
	if a.cache != nil {
		exp := a.now().Add(a.cacheTTL)
		if !id.ExpiresAt.IsZero() && id.ExpiresAt.Before(exp) {
			exp = id.ExpiresAt
		}
		a.cache.Put(digest, id, exp)
	}
	return id, nil
}

func (a *APIKey) reject(reason Reason, detail string) (*Identity, error) {
	return nil, Reject(a.scheme, reason, detail, nil)
}

func (a *APIKey) verifyJWT(ctx context.Context, key string, digest CacheKey) (*Identity, error) {
	is := a.issuer
	tok, err := is.policy.Parse([]byte(key))
	switch {
	case errors.Is(err, jose.ErrNotJWS):
		if !strings.Contains(key, ".") {
			return a.reject(ReasonInvalidCredentials, "unknown API key")
		}
		return a.reject(ReasonMalformed, err.Error())
	case err != nil:
		// A header that is not JOSE is malformed here: nothing else
		// shares an API key's location.
		return nil, joseRejection(a.scheme, err)
	}
	hdr, claims := &tok.Header, tok.Claims
	if use, _ := claims[APIKeyUseClaim].(string); use != APIKeyUseValue {
		return a.reject(ReasonInvalidCredentials, "not an API key ("+APIKeyUseClaim+")")
	}
	if iss, ok := claims["iss"].(string); !ok || iss != is.iss {
		return a.reject(ReasonUnknownIssuer, "iss is not the API key issuer")
	}
	vk, err := is.keys.Key(ctx, hdr.Kid, hdr.Alg)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			return a.reject(ReasonUnknownKey, "no API key verification key matches the kid")
		}
		return nil, fmt.Errorf("authn: %s: API key verification keys: %w", a.scheme, err)
	}
	if !vk.Allows(hdr.Alg) {
		return a.reject(ReasonInvalidSignature, "key does not allow the algorithm")
	}
	if err := tok.Verify(vk.Public, hdr.Alg); err != nil {
		return nil, joseRejection(a.scheme, err)
	}
	t, ce := is.validateTimes(claims, a.now())
	if ce != nil {
		return a.reject(ce.reason, ce.detail)
	}
	apis, err := ParseAPIRefs(claims["apis"])
	if err != nil {
		return a.reject(ReasonMalformed, "apis claim: "+err.Error())
	}
	id := is.identity(a.scheme, digest, claims, t, apis)
	id.SubscriptionValidation = a.subVal
	return id, nil
}

func (is *apiKeyIssuer) validateTimes(claims map[string]any, now time.Time) (tokenTimes, *claimError) {
	var t tokenTimes
	var hasExp, hasNbf, hasIat bool
	var ce *claimError
	if t.exp, hasExp, ce = numericDate(claims, "exp"); ce != nil {
		return t, ce
	}
	if t.nbf, hasNbf, ce = numericDate(claims, "nbf"); ce != nil {
		return t, ce
	}
	if t.iat, hasIat, ce = numericDate(claims, "iat"); ce != nil {
		return t, ce
	}
	switch {
	case !hasExp && !is.allowNoExpiry:
		return t, claimFail(ReasonInvalidCredentials, "API key without exp, and keys without expiry are not allowed")
	case hasExp && !now.Before(t.exp.Add(is.leeway)):
		return t, claimFail(ReasonExpired, "API key expired")
	case hasNbf && now.Add(is.leeway).Before(t.nbf):
		return t, claimFail(ReasonNotYetValid, "API key not valid yet (nbf)")
	case hasIat && now.Add(is.leeway).Before(t.iat):
		return t, claimFail(ReasonNotYetValid, "API key issued in the future (iat)")
	}
	return t, nil
}

func (is *apiKeyIssuer) identity(scheme string, digest CacheKey, claims map[string]any, t tokenTimes, apis []APIRef) *Identity {
	id := &Identity{
		Scheme:       scheme,
		Type:         TypeAPIKey,
		Subject:      claimString(claims, "sub"),
		Issuer:       is.iss,
		Source:       is.name,
		Application:  internString(applicationClaim(claims["application"])),
		Plan:         internString(claimString(claims, "plan")),
		TokenID:      claimString(claims, "jti"),
		IssuedAt:     t.iat,
		NotBefore:    t.nbf,
		ExpiresAt:    t.exp,
		CredentialID: digest.CredentialID(),
		APIs:         apis,
	}
	id.ClientID = id.Application
	id.Scopes = internList(SortedUnique(scopeValues(nil, claims["scope"])))
	id.setDerivedClaims(claims) // last: it keeps what the fields give back as a mask
	return id
}

// ParseAPIRefs reads an "apis" value (a JSON array of {"name", "version"?}
// objects, as decoded by encoding/json): every name a non-empty string
// (AllAPIs for every API), every version a string if present. An empty
// list is allowed (the key may call nothing).
func ParseAPIRefs(v any) ([]APIRef, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, errors.New("not an array")
	}
	out := make([]APIRef, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, errors.New("element is not an object")
		}
		name, ok := m["name"].(string)
		if !ok || name == "" {
			return nil, errors.New("element has no name")
		}
		ref := APIRef{Name: name}
		if ver, present := m["version"]; present {
			if ref.Version, ok = ver.(string); !ok {
				return nil, errors.New("version is not a string")
			}
		}
		for k := range m {
			if k != "name" && k != "version" {
				return nil, fmt.Errorf("unknown member %q", k)
			}
		}
		out = append(out, ref)
	}
	return out, nil
}

// apiKeyMarked reports whether a JWT carries either API key marker; the
// bearer JWT authenticator rejects such tokens, so an API key can never be
// used as an access token even when an issuer shares the service's keys.
func apiKeyMarked(hdr *jose.Header, claims map[string]any) bool {
	if jose.NormalizeTyp(hdr.Typ) == APIKeyTyp {
		return true
	}
	_, marked := claims[APIKeyUseClaim].(string)
	return marked && claims[APIKeyUseClaim] == APIKeyUseValue
}
