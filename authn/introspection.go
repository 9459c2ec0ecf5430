package authn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/sync/singleflight"

	"github.com/gatehouse/gatehouse/internal/spans"
)

// Client authentication methods of an Introspection client (RFC 7662 §2.1
// lets the server pick; these are the common ones).
const (
	AuthClientSecretBasic = "client_secret_basic" // RFC 6749 §2.3.1, Authorization: Basic
	AuthClientSecretPost  = "client_secret_post"  // client_id and client_secret in the form
	AuthBearer            = "bearer"              // Authorization: Bearer <token>
	// AuthNone sends no client credentials, for endpoints that need none
	// (reachable only by the gateway, or protected at the network layer).
	AuthNone = "none"
)

// Defaults of an Introspection client (README.md documents them).
const (
	DefaultIntrospectionTimeout  = 2 * time.Second
	DefaultIntrospectionCacheTTL = 60 * time.Second
	DefaultNegativeCacheTTL      = 10 * time.Second
	// MaxIntrospectionBytes bounds an introspection answer.
	MaxIntrospectionBytes = 64 << 10
)

// IntrospectionConfig configures one external key manager.
type IntrospectionConfig struct {
	Name string
	// URL is the introspection endpoint: https, or http to a loopback host.
	URL string
	// AuthMethod is one of the Auth* constants (AuthClientSecretBasic when
	// empty). ClientID/ClientSecret serve the client_secret_* methods,
	// BearerToken the bearer method; AuthNone sends none.
	AuthMethod   string
	ClientID     string
	ClientSecret Redacted
	BearerToken  Redacted
	// Timeout bounds one call, connection included (2 s by default).
	Timeout time.Duration
	// RootCAs verify the server's certificate (system roots when nil);
	// ServerName overrides the name verified.
	RootCAs    *x509.CertPool
	ServerName string
	// TokenPrefix and TokenPattern, when set, route tokens to this key
	// manager: a bearer scheme sends it only tokens with the prefix or
	// matching the pattern (see Bearer).
	TokenPrefix  string
	TokenPattern *regexp.Regexp
	// Claims maps answer members to identity facts.
	Claims IntrospectionClaims
	// Issuer, when set, must equal the answer's iss; Audiences, when set,
	// must contain one member of its aud.
	Issuer    string
	Audiences []string
	// SubscriptionValidation marks identities for the subscription rules.
	SubscriptionValidation bool
	// CacheTTL bounds how long an active answer is served from cache (never
	// past exp; 60 s by default; negative disables). NegativeCacheTTL is
	// how long an inactive answer is (10 s by default; negative disables).
	CacheTTL         time.Duration
	NegativeCacheTTL time.Duration
	CacheSize        int
	// BreakerFailures and BreakerCooldown tune the circuit breaker (5, 10 s).
	BreakerFailures int
	BreakerCooldown time.Duration
	Logger          hclog.Logger
	// Now is the clock (time.Now when nil). For tests.
	Now func() time.Time
}

// Introspection is an RFC 7662 client: it asks an external authorization
// server whether a token is active, and caches the answer.
//
//   - One POST per token (token=…&token_type_hint=access_token), client
//     authentication by client_secret_basic, client_secret_post, a bearer
//     token or none; no redirect is followed; 2 s timeout; 64 KiB answer limit.
//   - 200 with a JSON object whose "active" is the boolean true: active,
//     unless past its exp, not yet valid, or failing the configured iss/aud
//     checks (rejections). "active": false is inactive_token. Anything
//     else — 401/403 (ErrKeyManagerCredentials: the gateway's own
//     credentials are wrong), other statuses, timeouts, resets, redirects,
//     non-JSON, oversize — is a technical failure (ErrKeyManagerUnavailable):
//     fail closed, nothing cached.
//   - Cache key: SHA-256 of the token, in this key manager's own cache (so
//     two key managers never share an entry). Active answers live
//     min(CacheTTL, exp − now), never extended on hit; inactive ones
//     NegativeCacheTTL.
//   - Concurrent misses for one token make one call (singleflight); the call
//     runs to its own deadline even if the first caller gives up.
//   - A circuit breaker fails calls fast after 5 consecutive failures, for
//     10 s, then lets one trial call through.
type Introspection struct {
	cfg      IntrospectionConfig
	endpoint string
	client   *http.Client
	check    introspectionCheck
	now      func() time.Time
	log      hclog.Logger
	cache    *Cache[kmEntry]
	flight   singleflight.Group
	breaker  *breaker

	calls, failures atomic.Uint64
}

var (
	_ KeyManager  = (*Introspection)(nil)
	_ TokenRouter = (*Introspection)(nil)
)

// Recognizes reports whether the key manager routes tokens (a prefix or a
// pattern is configured) and whether token is one of its own.
func (k *Introspection) Recognizes(token string) (routed, mine bool) {
	if k.cfg.TokenPrefix == "" && k.cfg.TokenPattern == nil {
		return false, false
	}
	if k.cfg.TokenPrefix != "" && strings.HasPrefix(token, k.cfg.TokenPrefix) {
		return true, true
	}
	return true, k.cfg.TokenPattern != nil && k.cfg.TokenPattern.MatchString(token)
}

// kmEntry is a cached answer: the active token's info, or its rejection.
type kmEntry struct {
	info *Identity
	rej  *Rejection
}

// NewIntrospection checks cfg and returns the client.
func NewIntrospection(cfg IntrospectionConfig) (*Introspection, error) {
	if cfg.Name == "" {
		return nil, errors.New("authn: key manager without a name")
	}
	u, err := checkFetchURL(cfg.URL, false)
	if err != nil {
		return nil, fmt.Errorf("authn: key manager %s: introspection endpoint: %w", cfg.Name, err)
	}
	switch cfg.AuthMethod {
	case "":
		cfg.AuthMethod = AuthClientSecretBasic
		fallthrough
	case AuthClientSecretBasic, AuthClientSecretPost:
		if cfg.ClientID == "" || cfg.ClientSecret == "" {
			return nil, fmt.Errorf("authn: key manager %s: %s needs a client id and secret", cfg.Name, cfg.AuthMethod)
		}
	case AuthBearer:
		if cfg.BearerToken == "" {
			return nil, fmt.Errorf("authn: key manager %s: bearer authentication needs a token", cfg.Name)
		}
	case AuthNone:
		if cfg.ClientID != "" || cfg.ClientSecret != "" || cfg.BearerToken != "" {
			return nil, fmt.Errorf("authn: key manager %s: authentication method none takes no client credentials", cfg.Name)
		}
	default:
		return nil, fmt.Errorf("authn: key manager %s: unknown authentication method %q", cfg.Name, cfg.AuthMethod)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultIntrospectionTimeout
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultIntrospectionCacheTTL
	}
	if cfg.NegativeCacheTTL == 0 {
		cfg.NegativeCacheTTL = DefaultNegativeCacheTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	auds := SortedUnique(cfg.Audiences)
	k := &Introspection{
		cfg:      cfg,
		endpoint: u.String(),
		client:   newIntrospectionClient(cfg),
		now:      cfg.Now,
		log:      cfg.Logger,
		breaker:  newBreaker(cfg.BreakerFailures, cfg.BreakerCooldown, cfg.Now),
		check: introspectionCheck{
			name: cfg.Name, claims: cfg.Claims, issuer: cfg.Issuer, audiences: auds,
			subscription: cfg.SubscriptionValidation, leeway: DefaultLeeway,
		},
	}
	if cfg.CacheTTL > 0 || cfg.NegativeCacheTTL > 0 {
		k.cache = NewCache[kmEntry](cfg.CacheSize, cfg.Now)
	}
	return k, nil
}

// CheckIntrospectionURL applies the endpoint rules of NewIntrospection: an
// https URL (or http to a loopback host) with a host and no user info or
// fragment.
func CheckIntrospectionURL(raw string) error {
	_, err := checkFetchURL(raw, false)
	return err
}

// newIntrospectionClient: its own transport (one slow key manager never
// holds another's connections), TLS 1.2+ with the configured roots, every
// phase bounded by the timeout, and no redirects: an introspection endpoint
// that redirects is misconfigured, and following it would send the token
// somewhere else.
func newIntrospectionClient(cfg IntrospectionConfig) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: cfg.RootCAs, ServerName: cfg.ServerName, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return fmt.Errorf("%w: the introspection endpoint redirected", errRedirect)
		},
	}
}

// Name is the key manager's configured name.
func (k *Introspection) Name() string { return k.cfg.Name }

// Calls is how many introspection requests were sent (for tests and
// metrics).
func (k *Introspection) Calls() uint64 { return k.calls.Load() }

// Failures is how many calls failed (no usable answer).
func (k *Introspection) Failures() uint64 { return k.failures.Load() }

// CacheStats reports the answer cache's hits and misses.
func (k *Introspection) CacheStats() (hits, misses uint64) { return k.cache.Stats() }

// BreakerOpen reports whether the circuit breaker refuses calls now.
func (k *Introspection) BreakerOpen() bool { return k.breaker.open() }

// Close releases idle connections.
func (k *Introspection) Close() error {
	k.client.CloseIdleConnections()
	return nil
}

// Validate asks the key manager about token (or its cache). See the type
// comment.
func (k *Introspection) Validate(ctx context.Context, token string) (*Identity, error) {
	key := CacheKeyOf(token)
	if e, ok := k.cache.Get(key); ok {
		return e.result()
	}
	return k.miss(ctx, token, key)
}

// miss asks the key manager, one call per token at a time. (A function of
// its own so that the hit path's key stays on the stack.)
func (k *Introspection) miss(ctx context.Context, token string, key CacheKey) (*Identity, error) {
	ctx, sp := spans.StartClient(ctx, "introspection")
	id, err := k.call(ctx, token, key)
	endCallSpan(sp, attribute.String("gatehouse.key_manager", k.cfg.Name), err)
	return id, err
}

// call joins or starts the one call for key and waits for its answer.
func (k *Introspection) call(ctx context.Context, token string, key CacheKey) (*Identity, error) {
	ch := k.flight.DoChan(string(key[:]), func() (any, error) {
		// The call belongs to every waiter: it keeps its own deadline
		// when the first caller goes away.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.Timeout)
		defer cancel()
		return k.introspect(cctx, token, key)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(kmEntry).result()
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %s: %w", ErrKeyManagerUnavailable, k.cfg.Name, ctx.Err())
	}
}

func (e kmEntry) result() (*Identity, error) {
	if e.rej != nil {
		return nil, e.rej
	}
	return e.info, nil
}

// introspect makes the call (through the breaker) and caches its answer.
func (k *Introspection) introspect(ctx context.Context, token string, key CacheKey) (kmEntry, error) {
	if e, ok := k.cache.Get(key); ok { // filled while this flight waited to start
		return e, nil
	}
	if !k.breaker.allow() {
		return kmEntry{}, fmt.Errorf("%w: %s: %w", ErrKeyManagerUnavailable, k.cfg.Name, ErrBreakerOpen)
	}
	claims, active, err := k.post(ctx, token)
	k.breaker.done(err == nil)
	if err != nil {
		k.failures.Add(1)
		if errors.Is(err, ErrKeyManagerCredentials) {
			k.log.Error("key manager refused the gateway's credentials; check its client_id/client_secret or token", "key_manager", k.cfg.Name, "error", err.Error())
		}
		return kmEntry{}, err
	}
	now := k.now()
	credID := key.CredentialID()
	if !active {
		e := kmEntry{rej: Reject("", ReasonInactiveToken, "key manager "+k.cfg.Name+": token is not active", nil)}
		k.putNegative(key, e, now)
		return e, nil
	}
	info, rej := k.check.identity(claims, credID, now)
	if rej != nil {
		rej.Detail = "key manager " + k.cfg.Name + ": " + rej.Detail
		e := kmEntry{rej: rej}
		k.putNegative(key, e, now)
		return e, nil
	}
	e := kmEntry{info: info}
	if k.cfg.CacheTTL > 0 {
		exp := now.Add(k.cfg.CacheTTL)
		if !info.ExpiresAt.IsZero() && info.ExpiresAt.Before(exp) {
			exp = info.ExpiresAt
		}
		k.cache.Put(key, e, exp)
	}
	return e, nil
}

func (k *Introspection) putNegative(key CacheKey, e kmEntry, now time.Time) {
	if k.cfg.NegativeCacheTTL > 0 {
		k.cache.Put(key, e, now.Add(k.cfg.NegativeCacheTTL))
	}
}

// post sends the introspection request and reads the answer.
func (k *Introspection) post(ctx context.Context, token string) (map[string]any, bool, error) {
	fail := func(format string, args ...any) (map[string]any, bool, error) {
		return nil, false, fmt.Errorf("%w: %s: %s", ErrKeyManagerUnavailable, k.cfg.Name, fmt.Sprintf(format, args...))
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	if k.cfg.AuthMethod == AuthClientSecretPost {
		form.Set("client_id", k.cfg.ClientID)
		form.Set("client_secret", k.cfg.ClientSecret.Reveal())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fail("request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "gatehouse")
	switch k.cfg.AuthMethod {
	case AuthClientSecretBasic:
		// RFC 6749 §2.3.1: both parts form-urlencoded before Basic.
		req.SetBasicAuth(url.QueryEscape(k.cfg.ClientID), url.QueryEscape(k.cfg.ClientSecret.Reveal()))
	case AuthBearer:
		req.Header.Set("Authorization", "Bearer "+k.cfg.BearerToken.Reveal())
	}
	k.calls.Add(1)
	resp, err := k.client.Do(req)
	if err != nil {
		// url.Error quotes the URL only (the token travels in the body).
		return fail("%v", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, false, fmt.Errorf("%w: %w: %s answered %d", ErrKeyManagerUnavailable, ErrKeyManagerCredentials, k.cfg.Name, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return fail("status %d", resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return fail("answer is not application/json (%s)", strconv.Quote(resp.Header.Get("Content-Type")))
	}
	if resp.ContentLength > MaxIntrospectionBytes {
		return fail("answer of %d bytes, more than the limit of %d", resp.ContentLength, MaxIntrospectionBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxIntrospectionBytes+1))
	if err != nil {
		return fail("reading the answer: %v", err)
	}
	if len(body) > MaxIntrospectionBytes {
		return fail("answer larger than the limit of %d bytes", MaxIntrospectionBytes)
	}
	claims, active, err := ParseIntrospection(body)
	if err != nil {
		return fail("%v", err)
	}
	return claims, active, nil
}
