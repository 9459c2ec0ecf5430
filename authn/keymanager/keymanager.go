// Package keymanager is the key manager Gatehouse ships: a small OAuth 2.0
// authorization server for machine clients, served by the gateway process.
//
//   - Token endpoint, client_credentials grant only (RFC 6749 §4.4): the
//     applications of the bundle data (Applications) authenticate with
//     client_secret_basic or client_secret_post against bcrypt/argon2id
//     hashes; they get at most the scopes they may request, for the
//     configured lifetime.
//   - Tokens are opaque by default: "gk_" and 256 random bits, base64url.
//     Configured with a signing key they are JWTs (RFC 9068 at+jwt) that
//     other resource servers can verify with the published JWKS. Either way
//     the store keeps a record under the token's SHA-256 only, so a token is
//     active exactly while its record lives: revocation deletes it.
//   - Introspection (RFC 7662, for applications marked introspect),
//     revocation (RFC 7009), metadata (RFC 8414), JWKS.
//   - The gateway validates these tokens in process (Validate, an
//     authn.KeyManager): a store lookup, the application still known, its
//     scopes still allowed — no HTTP hop.
//
// Storage (Store): a bbolt file by default (one process; survives
// restarts), Redis for replicas that share tokens and revocations.
package keymanager

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/jose"
	"github.com/gatehouse/gatehouse/internal/spans"
)

// Token formats.
const (
	FormatOpaque = "opaque"
	FormatJWT    = "jwt"
)

// Defaults.
const (
	DefaultName     = "gatehouse"
	DefaultLifetime = time.Hour
	MaxLifetime     = 24 * time.Hour
	// DefaultCacheTTL bounds how long a validated token is served from the
	// in-process cache: a revocation made on another replica takes effect
	// within it.
	DefaultCacheTTL = 5 * time.Second
	// OpaquePrefix starts every opaque token (secret scanners, and foreign
	// tokens are refused without a store lookup).
	OpaquePrefix = "gk_"
)

// Errors of the token endpoint (RFC 6749 §5.2 codes in their messages).
var (
	ErrInvalidClient = errors.New("invalid_client")
	ErrInvalidScope  = errors.New("invalid_scope")
)

// Config configures a KeyManager.
type Config struct {
	// Name is the identity source of its tokens (DefaultName when empty).
	Name string
	// Issuer is the iss of its tokens and its RFC 8414 issuer identifier.
	Issuer string
	// Format is FormatOpaque (default) or FormatJWT (needs Signer).
	Format string
	// Lifetime of issued tokens (DefaultLifetime when zero).
	Lifetime time.Duration
	// Signer signs JWT tokens; Algorithm is ES256 (default), RS256 or EdDSA.
	Signer    crypto.Signer
	Algorithm string
	Store     Store
	// SubscriptionValidation marks its identities for the subscription
	// rules (the application must be subscribed to the API).
	SubscriptionValidation bool
	// CacheTTL: see DefaultCacheTTL; negative disables the cache.
	CacheTTL  time.Duration
	CacheSize int
	// HashSlots bounds concurrent secret hash comparisons (2×GOMAXPROCS).
	HashSlots int
	Now       func() time.Time
	Logger    hclog.Logger
}

// KeyManager issues, validates and revokes tokens. Its applications come
// from the bundle data of a generation (SetApplications).
type KeyManager struct {
	cfg    Config
	apps   atomic.Pointer[Applications]
	cache  *authn.Cache[*authn.Identity]
	slots  chan struct{}
	signer *jose.Signer // nil: opaque tokens
	jwks   []byte
	// metadata is Metadata as served: it depends on the configuration only.
	metadata []byte
	dummy    secretHash // compared for unknown clients, so timing tells nothing
}

var _ authn.KeyManager = (*KeyManager)(nil)

// New checks cfg and returns the key manager (with no applications yet).
func New(cfg Config) (*KeyManager, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.Issuer == "" {
		return nil, errors.New("keymanager: issuer is required")
	}
	if cfg.Store == nil {
		return nil, errors.New("keymanager: a store is required")
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.Lifetime < time.Minute || cfg.Lifetime > MaxLifetime {
		return nil, fmt.Errorf("keymanager: token lifetime must be between 1m and %s", MaxLifetime)
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.HashSlots <= 0 {
		cfg.HashSlots = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	km := &KeyManager{cfg: cfg, slots: make(chan struct{}, cfg.HashSlots)}
	switch cfg.Format {
	case "", FormatOpaque:
		km.cfg.Format = FormatOpaque
		km.jwks = []byte(`{"keys":[]}`)
	case FormatJWT:
		if cfg.Signer == nil {
			return nil, errors.New("keymanager: JWT tokens need a signing key")
		}
		var err error
		if km.signer, km.jwks, err = newJWTSigner(cfg.Signer, cfg.Algorithm); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("keymanager: unknown token format %q", cfg.Format)
	}
	if cfg.CacheTTL > 0 {
		km.cache = authn.NewCache[*authn.Identity](cfg.CacheSize, cfg.Now)
	}
	var err error
	if km.dummy, err = dummyHash(); err != nil {
		return nil, err
	}
	if km.metadata, err = json.Marshal(km.Metadata()); err != nil {
		return nil, fmt.Errorf("keymanager: metadata: %w", err)
	}
	km.apps.Store(&Applications{})
	return km, nil
}

// dummyHash is compared when a client is unknown, at bcrypt's default
// cost (what gatehouse app create writes), made once per process.
var dummyHash = sync.OnceValues(func() (secretHash, error) {
	h, err := HashSecret("not a secret of any client", 0)
	if err != nil {
		return nil, err
	}
	return ParseSecretHash(h)
})

// Name is the key manager's name (authn.KeyManager).
func (km *KeyManager) Name() string { return km.cfg.Name }

// Issuer is its issuer identifier.
func (km *KeyManager) Issuer() string { return km.cfg.Issuer }

// SetApplications replaces the known applications.
func (km *KeyManager) SetApplications(apps *Applications) {
	if apps == nil {
		apps = &Applications{}
	}
	km.apps.Store(apps)
}

// Authenticate checks a client's credentials: one hash comparison whether
// or not the client exists (a dummy for unknown ones), at most HashSlots at
// a time. Any failure is ErrInvalidClient.
func (km *KeyManager) Authenticate(ctx context.Context, clientID, secret string) (*Application, error) {
	select {
	case km.slots <- struct{}{}:
		defer func() { <-km.slots }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	app := km.apps.Load().Client(clientID)
	if app == nil {
		km.dummy.check([]byte(secret))
		return nil, fmt.Errorf("%w: unknown client", ErrInvalidClient)
	}
	for _, h := range app.hashes {
		if h.check([]byte(secret)) {
			return app, nil
		}
	}
	return nil, fmt.Errorf("%w: wrong secret", ErrInvalidClient)
}

// Issued is a new token.
type Issued struct {
	Token     string
	Record    Record
	ExpiresIn time.Duration
}

// Issue issues a token to an authenticated application. requested are the
// scopes asked for (nil: all the application may request); one it may not
// is ErrInvalidScope.
func (km *KeyManager) Issue(ctx context.Context, app *Application, requested []string) (*Issued, error) {
	scopes := app.Scopes
	if requested != nil {
		for _, s := range requested {
			if !app.Allows(s) {
				return nil, fmt.Errorf("%w: scope %q is not allowed for this client", ErrInvalidScope, s)
			}
		}
		scopes = authn.SortedUnique(requested)
	}
	now := km.cfg.Now().Truncate(time.Second)
	rec := Record{
		ClientID:    app.ClientID,
		Application: app.ID,
		Scopes:      scopes,
		IssuedAt:    now,
		ExpiresAt:   now.Add(km.cfg.Lifetime),
	}
	var err error
	if rec.TokenID, err = randomString(16); err != nil {
		return nil, err
	}
	var tok string
	if km.signer != nil {
		tok, err = signToken(km.signer, km.cfg.Issuer, rec)
	} else {
		var r string
		r, err = randomString(32)
		tok = OpaquePrefix + r
	}
	if err != nil {
		return nil, err
	}
	k := keyOf(tok)
	if err := km.cfg.Store.Save(ctx, k, rec); err != nil {
		return nil, err
	}
	km.cfg.Logger.Info("token issued", "client_id", app.ClientID, "jti", rec.TokenID, "credential_id", k.credentialID(), "scopes", strings.Join(scopes, " "))
	return &Issued{Token: tok, Record: rec, ExpiresIn: km.cfg.Lifetime}, nil
}

// Validate answers for a token in process (authn.KeyManager): active while
// its record lives, its application is still a client, and within the
// scopes the application may still request.
func (km *KeyManager) Validate(ctx context.Context, token string) (*authn.Identity, error) {
	if !km.mayBeOurs(token) {
		return nil, authn.Reject("", authn.ReasonInactiveToken, "key manager "+km.cfg.Name+": not one of its tokens", nil)
	}
	k := keyOf(token)
	if ti, ok := km.cache.Get(authn.CacheKey(k)); ok {
		return ti, nil
	}
	lctx, sp := spans.StartClient(ctx, "token store lookup")
	rec, err := km.cfg.Store.Lookup(lctx, k)
	if sp.IsRecording() {
		outcome := "found"
		if errors.Is(err, ErrNotFound) {
			outcome = "not_found"
		} else if err != nil {
			outcome = "unavailable"
			sp.SetStatus(codes.Error, outcome)
		}
		sp.SetAttributes(attribute.String("gatehouse.key_manager", km.cfg.Name), attribute.String("gatehouse.outcome", outcome))
	}
	sp.End()
	if errors.Is(err, ErrNotFound) {
		return nil, authn.Reject("", authn.ReasonInactiveToken, "key manager "+km.cfg.Name+": token not active", nil)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", authn.ErrKeyManagerUnavailable, km.cfg.Name, err)
	}
	ti, rej := km.identity(rec, k.credentialID())
	if rej != nil {
		return nil, rej
	}
	if km.cache != nil {
		exp := km.cfg.Now().Add(km.cfg.CacheTTL)
		if rec.ExpiresAt.Before(exp) {
			exp = rec.ExpiresAt
		}
		km.cache.Put(authn.CacheKey(k), ti, exp)
	}
	return ti, nil
}

// mayBeOurs is a cheap shape check before any store lookup.
func (km *KeyManager) mayBeOurs(token string) bool {
	if km.signer != nil {
		return strings.Count(token, ".") == 2 && len(token) < 8<<10
	}
	return strings.HasPrefix(token, OpaquePrefix) && len(token) == len(OpaquePrefix)+43
}

// identity is the identity of an active token (no scheme: see
// authn.KeyManager).
func (km *KeyManager) identity(rec Record, credID string) (*authn.Identity, *authn.Rejection) {
	app := km.apps.Load().Client(rec.ClientID)
	if app == nil || app.ID != rec.Application {
		return nil, authn.Reject("", authn.ReasonInactiveToken, "key manager "+km.cfg.Name+": the token's application is no longer a client", nil)
	}
	scopes := make([]string, 0, len(rec.Scopes))
	for _, s := range rec.Scopes {
		if app.Allows(s) {
			scopes = append(scopes, s)
		}
	}
	claims := map[string]any{
		"iss":        km.cfg.Issuer,
		"sub":        rec.ClientID,
		"client_id":  rec.ClientID,
		"jti":        rec.TokenID,
		"iat":        jsonNumber(rec.IssuedAt.Unix()),
		"exp":        jsonNumber(rec.ExpiresAt.Unix()),
		"scope":      strings.Join(scopes, " "),
		"token_type": "Bearer",
	}
	id := &authn.Identity{
		Type:         authn.TypeOpaqueToken,
		Source:       km.cfg.Name,
		Subject:      rec.ClientID,
		Issuer:       km.cfg.Issuer,
		ClientID:     rec.ClientID,
		Application:  rec.Application,
		Scopes:       scopes,
		TokenID:      rec.TokenID,
		IssuedAt:     rec.IssuedAt,
		ExpiresAt:    rec.ExpiresAt,
		CredentialID: credID,

		SubscriptionValidation: km.cfg.SubscriptionValidation,
	}
	id.SetClaims(claims)
	return id, nil
}

// Revoke revokes token on behalf of app (RFC 7009): only the application
// the token was issued to may revoke it (others get ErrInvalidClient);
// unknown, expired or foreign-shaped tokens are not an error.
func (km *KeyManager) Revoke(ctx context.Context, app *Application, token string) error {
	if !km.mayBeOurs(token) {
		return nil
	}
	k := keyOf(token)
	rec, err := km.cfg.Store.Lookup(ctx, k)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if rec.ClientID != app.ClientID {
		return fmt.Errorf("%w: the token was issued to another client", ErrInvalidClient)
	}
	if err := km.cfg.Store.Revoke(ctx, k); err != nil {
		return err
	}
	km.cache.Delete(authn.CacheKey(k))
	km.cfg.Logger.Info("token revoked", "client_id", app.ClientID, "jti", rec.TokenID, "credential_id", k.credentialID())
	return nil
}

// Introspect is the RFC 7662 answer for token: {"active": false} unless
// Validate accepts it. A store failure is an error (the endpoint answers
// 503, never "inactive").
func (km *KeyManager) Introspect(ctx context.Context, token string) (map[string]any, error) {
	ti, err := km.Validate(ctx, token)
	if _, rejected := authn.AsRejection(err); rejected {
		return map[string]any{"active": false}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]any{"active": true}
	for k, v := range ti.Claims() {
		out[k] = v
	}
	out["application"] = ti.Application
	return out, nil
}

func keyOf(token string) Key {
	return Key(authn.CacheKeyOf(token))
}

// credentialID is authn.CredentialID of the token k is the key of, without
// hashing the token again.
func (k Key) credentialID() string { return hex.EncodeToString(k[:6]) }

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("keymanager: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
