package authn

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/attribute"

	"github.com/gatehouse/gatehouse/internal/spans"
)

// Limits and defaults of a remote JWKS (README.md documents them).
const (
	// DefaultJWKSRefresh is how often a key set is refetched when its
	// response says nothing about caching.
	DefaultJWKSRefresh = 10 * time.Minute
	// MinJWKSRefresh and MaxJWKSRefresh bound every refresh interval,
	// configured or taken from Cache-Control: max-age.
	MinJWKSRefresh = 5 * time.Minute
	MaxJWKSRefresh = 24 * time.Hour
	// DefaultJWKSMaxAge is the default upper bound applied to max-age: a
	// key removed from a JWKS stops validating tokens within 10 minutes
	// unless the operator raises it (up to MaxJWKSRefresh).
	DefaultJWKSMaxAge = 10 * time.Minute
	// DefaultJWKSStaleWindow is how long the last good key set keeps
	// serving after a refresh was due and failed; at most MaxJWKSStaleWindow.
	DefaultJWKSStaleWindow = time.Hour
	MaxJWKSStaleWindow     = 24 * time.Hour
	// DefaultJWKSRefetch is the least time between two fetches triggered by
	// tokens naming an unknown kid (per issuer).
	DefaultJWKSRefetch = 30 * time.Second
	// DefaultJWKSFetchTimeout bounds one fetch (discovery and key set).
	DefaultJWKSFetchTimeout = 5 * time.Second
	// MaxJWKSBytes and MaxJWKSKeys bound what a key set (or discovery
	// document) may be; a larger one is refused and the old set kept.
	MaxJWKSBytes = 1 << 20
	MaxJWKSKeys  = 100
)

// ErrKeysUnavailable is returned by a RemoteJWKS that has no usable key set:
// never fetched, or its last good set is past its stale window. It is a
// technical failure (503, fail closed), not a rejection of the token.
var ErrKeysUnavailable = errors.New("authn: issuer keys unavailable")

// RotatingKeySource is a KeySource whose keys change over time. On every
// verified-token cache hit the JWT authenticator asks it whether the key that
// verified the cached token is still current, so a key removed from a JWKS
// stops validating cached tokens at the refresh that removes it (and a key
// set past its stale window stops validating them at once).
type RotatingKeySource interface {
	KeySource
	// Holds reports whether k, returned earlier by Key, is still among the
	// usable keys. It must be cheap and never fetch.
	Holds(k *VerificationKey) bool
}

// RemoteJWKSConfig configures a RemoteJWKS. Zero durations take defaults.
type RemoteJWKSConfig struct {
	// Name is the issuer's configured name (logs, metrics, readiness).
	Name string
	// Issuer is the exact iss; with DiscoveryURL, the discovery document's
	// "issuer" must equal it.
	Issuer string
	// Exactly one of JWKSURL and DiscoveryURL (an OpenID Provider
	// configuration document whose jwks_uri is then used).
	JWKSURL      string
	DiscoveryURL string
	// AllowInsecureHTTP permits plain http URLs to hosts other than
	// loopback. Off by default: keys fetched over plain HTTP can be swapped
	// by anyone on the path.
	AllowInsecureHTTP bool
	// AllowedJWKSHosts are the hosts ("host" or "host:port") a discovery
	// document's jwks_uri may name besides the issuer's own host. Empty:
	// only the issuer's host, so a tampered or misconfigured discovery
	// document cannot point the gateway at another party's keys.
	AllowedJWKSHosts []string
	// RootCAs verifies the servers' certificates (system roots when nil).
	RootCAs *x509.CertPool
	// RefreshInterval applies when a response carries no max-age
	// (DefaultJWKSRefresh). MinRefresh/MaxRefresh clamp max-age
	// (MinJWKSRefresh / DefaultJWKSMaxAge). All within 5m..24h.
	RefreshInterval, MinRefresh, MaxRefresh time.Duration
	// StaleWindow: how long past a due refresh the last good set serves
	// while fetches fail (DefaultJWKSStaleWindow, at most 24h).
	StaleWindow time.Duration
	// RefetchInterval: least time between fetches caused by unknown kids
	// (DefaultJWKSRefetch).
	RefetchInterval time.Duration
	// FetchTimeout bounds one fetch (DefaultJWKSFetchTimeout).
	FetchTimeout time.Duration
	Logger       hclog.Logger
	// Now is the clock for staleness and rate limits (time.Now). Background
	// scheduling uses real timers.
	Now func() time.Time
}

// RemoteJWKS is a KeySource over one issuer's JWKS fetched over HTTPS: fetched
// at Start, refreshed in the background (Cache-Control max-age within
// bounds), refetched when a token names an unknown kid (at most once per
// RefetchInterval, concurrent misses collapsed into one fetch), keeping the
// last good set through failed refreshes for StaleWindow, and never
// replacing a good set with an empty, unparsable or oversized one. Weak or
// misused keys are skipped as ParseJWKS does. It serves exactly one issuer:
// the JWT authenticator never pools keys across issuers.
type RemoteJWKS struct {
	cfg     RemoteJWKSConfig
	log     hclog.Logger
	now     func() time.Time
	client  *http.Client
	jwksURL atomic.Pointer[url.URL] // configured or discovered
	cur     atomic.Pointer[keyState]

	mu          sync.Mutex
	inflight    *fetchCall
	lastAttempt time.Time
	lastDemand  time.Time // start of the last fetch caused by an unknown kid
	lastErr     error
	nextRefresh time.Time
	failures    int // consecutive

	fetches, failed atomic.Uint64

	ctx       context.Context
	cancel    context.CancelFunc
	startOnce sync.Once
	closeOnce sync.Once
	wg        sync.WaitGroup
	ready     chan struct{} // closed after the first fetch attempt ends
}

var _ RotatingKeySource = (*RemoteJWKS)(nil)

// keyState is one good key set, immutable once installed.
type keyState struct {
	keys      *StaticKeys
	fetchedAt time.Time     // last successful fetch of this content
	interval  time.Duration // until the next refresh is due
	usableTil time.Time     // fetchedAt + interval + stale window
}

func (s *keyState) usable(now time.Time) bool { return s != nil && now.Before(s.usableTil) }

type fetchCall struct {
	done chan struct{}
	err  error
}

// errRateLimited: an on-demand fetch was refused by the refetch limit.
var errRateLimited = errors.New("jwks refetch rate-limited")

// NewRemoteJWKS checks cfg and returns a source that has fetched nothing
// yet; call Start (or Refresh) and Close.
func NewRemoteJWKS(cfg RemoteJWKSConfig) (*RemoteJWKS, error) {
	fail := func(format string, args ...any) (*RemoteJWKS, error) {
		return nil, fmt.Errorf("issuer %q: jwks: %s", cfg.Name, fmt.Sprintf(format, args...))
	}
	if (cfg.JWKSURL == "") == (cfg.DiscoveryURL == "") {
		return fail("set exactly one of a JWKS URL and a discovery URL")
	}
	if cfg.DiscoveryURL != "" && cfg.Issuer == "" {
		return fail("discovery needs the issuer (iss) to check the document against")
	}
	setDefault(&cfg.RefreshInterval, DefaultJWKSRefresh)
	setDefault(&cfg.MinRefresh, MinJWKSRefresh)
	setDefault(&cfg.MaxRefresh, DefaultJWKSMaxAge)
	setDefault(&cfg.StaleWindow, DefaultJWKSStaleWindow)
	setDefault(&cfg.RefetchInterval, DefaultJWKSRefetch)
	setDefault(&cfg.FetchTimeout, DefaultJWKSFetchTimeout)
	for _, d := range []time.Duration{cfg.RefreshInterval, cfg.MinRefresh, cfg.MaxRefresh} {
		if d < MinJWKSRefresh || d > MaxJWKSRefresh {
			return fail("refresh intervals must be within %s..%s", MinJWKSRefresh, MaxJWKSRefresh)
		}
	}
	if cfg.MinRefresh > cfg.MaxRefresh || cfg.RefreshInterval < cfg.MinRefresh || cfg.RefreshInterval > cfg.MaxRefresh {
		return fail("need min refresh <= refresh interval <= max refresh")
	}
	if cfg.StaleWindow < 0 || cfg.StaleWindow > MaxJWKSStaleWindow {
		return fail("stale window must be within 0s..%s", MaxJWKSStaleWindow)
	}
	if cfg.RefetchInterval < 0 || cfg.FetchTimeout < 0 {
		return fail("negative interval")
	}
	raw := cfg.JWKSURL
	if raw == "" {
		raw = cfg.DiscoveryURL
	}
	u, err := checkFetchURL(raw, cfg.AllowInsecureHTTP)
	if err != nil {
		return fail("%v", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	r := &RemoteJWKS{cfg: cfg, log: cfg.Logger, now: cfg.Now, ready: make(chan struct{})}
	if cfg.JWKSURL != "" {
		r.jwksURL.Store(u)
	}
	r.client = newFetchClient(cfg)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Name is the issuer's configured name.
func (r *RemoteJWKS) Name() string { return r.cfg.Name }

// Start fetches the key set in the background and keeps it fresh until
// Close. Calling it again does nothing. Use WaitReady to wait for the
// first fetch.
func (r *RemoteJWKS) Start() {
	r.startOnce.Do(func() {
		r.wg.Add(1)
		go r.run()
	})
}

// WaitReady waits until the first fetch attempt has ended (successfully or
// not) or ctx ends. It reports whether a usable key set is there.
func (r *RemoteJWKS) WaitReady(ctx context.Context) bool {
	select {
	case <-r.ready:
	case <-ctx.Done():
	}
	return r.cur.Load().usable(r.now())
}

// Close stops the background refresh and waits for it. Key keeps answering
// from the last set (until it is stale) but never fetches again.
func (r *RemoteJWKS) Close() error {
	r.closeOnce.Do(func() {
		r.cancel()
		r.wg.Wait()
		r.client.CloseIdleConnections()
	})
	return nil
}

// run is the background refresher: fetch now, then whenever the current set
// is due; after a failure retry sooner (1s, 2s, 4s… up to 1 min, never
// later than a normal refresh).
func (r *RemoteJWKS) run() {
	defer r.wg.Done()
	first := true
	for {
		err := r.fetch(r.ctx, false)
		if first {
			first = false
			close(r.ready)
		}
		delay := r.cfg.RefreshInterval
		if st := r.cur.Load(); st != nil {
			delay = st.interval
		}
		if err != nil && !errors.Is(err, errRateLimited) {
			r.mu.Lock()
			n := r.failures
			r.mu.Unlock()
			backoff := time.Second << min(n-1, 6)
			delay = min(backoff, time.Minute, delay)
		} else if st := r.cur.Load(); st != nil {
			// A fetch triggered by a request may have refreshed the set
			// meanwhile: wait for the set's own due time.
			delay = max(st.fetchedAt.Add(st.interval).Sub(r.now()), time.Second)
		}
		r.mu.Lock()
		r.nextRefresh = r.now().Add(delay)
		r.mu.Unlock()
		t := time.NewTimer(delay)
		select {
		case <-r.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Refresh fetches the key set now, whatever the rate limit, joining a fetch
// already in flight. For the first fetch and for tests.
func (r *RemoteJWKS) Refresh(ctx context.Context) error { return r.fetch(ctx, false) }

// Key implements KeySource. A kid the current set lacks (or a set that is
// missing or stale) triggers one fetch, unless another fetch started less
// than RefetchInterval ago; concurrent callers share one fetch. With no
// usable set afterwards it returns ErrKeysUnavailable (technical failure);
// with a usable set that still lacks the kid, ErrUnknownKey.
func (r *RemoteJWKS) Key(ctx context.Context, kid, alg string) (*VerificationKey, error) {
	if r == nil {
		return nil, errNoKeySource
	}
	if st := r.cur.Load(); st.usable(r.now()) {
		if k, err := st.keys.Key(ctx, kid, alg); err == nil {
			return k, nil
		}
	}
	fctx, sp := spans.StartClient(ctx, "jwks fetch")
	ferr := r.fetch(fctx, true)
	endCallSpan(sp, attribute.String("gatehouse.issuer", r.cfg.Name), ferr)
	st := r.cur.Load()
	if !st.usable(r.now()) {
		if ferr == nil || errors.Is(ferr, errRateLimited) {
			ferr = r.lastError()
		}
		return nil, fmt.Errorf("%w: issuer %s: %w", ErrKeysUnavailable, r.cfg.Name, ferr)
	}
	return st.keys.Key(ctx, kid, alg)
}

// Holds implements RotatingKeySource: k is a key of the current, usable set.
func (r *RemoteJWKS) Holds(k *VerificationKey) bool {
	if r == nil {
		return false
	}
	st := r.cur.Load()
	return st.usable(r.now()) && st.keys.holds(k)
}

// fetch runs one fetch, or joins the one in flight. onDemand fetches (an
// unknown kid) are refused with errRateLimited when the previous on-demand
// fetch started less than RefetchInterval ago (scheduled refreshes do not
// delay a rotation's new kid). The fetch itself runs detached from
// ctx (a caller that gives up does not cancel it for the others); ctx only
// bounds the wait.
func (r *RemoteJWKS) fetch(ctx context.Context, onDemand bool) error {
	r.mu.Lock()
	c := r.inflight
	if c == nil {
		now := r.now()
		if onDemand && !r.lastDemand.IsZero() && now.Sub(r.lastDemand) < r.cfg.RefetchInterval {
			r.mu.Unlock()
			return errRateLimited
		}
		if r.ctx.Err() != nil {
			r.mu.Unlock()
			return errRateLimited // closed: never fetch again
		}
		r.lastAttempt = now
		if onDemand {
			r.lastDemand = now
		}
		c = &fetchCall{done: make(chan struct{})}
		r.inflight = c
		go r.doFetch(c)
	}
	r.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *RemoteJWKS) doFetch(c *fetchCall) {
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.FetchTimeout)
	defer cancel()
	r.fetches.Add(1)
	keys, interval, err := r.fetchKeys(ctx)
	r.mu.Lock()
	if err != nil {
		r.failed.Add(1)
		r.lastErr = err
		r.failures++
	} else {
		r.lastErr = nil
		r.failures = 0
		r.install(keys, interval)
	}
	r.inflight = nil
	r.mu.Unlock()
	if err != nil && r.ctx.Err() == nil { // a fetch cut short by Close is not news
		r.log.Warn("jwks fetch failed; keeping the last good key set", "issuer", r.cfg.Name, "error", err.Error(),
			"have_keys", r.cur.Load() != nil)
	}
	c.err = err
	close(c.done)
}

// install makes keys the current set. Keys equal to a current one (same kid,
// thumbprint and algorithms) keep their identity, so Holds stays true for
// tokens cached under them. Callers hold r.mu.
func (r *RemoteJWKS) install(keys *StaticKeys, interval time.Duration) {
	old := r.cur.Load()
	var added, removed []string
	if old != nil {
		for i, k := range keys.keys {
			if prev := old.keys.same(k); prev != nil {
				keys.keys[i] = prev
			} else {
				added = append(added, cmpOr(k.ID, k.Thumbprint))
			}
		}
		for _, k := range old.keys.keys {
			if keys.same(k) == nil {
				removed = append(removed, cmpOr(k.ID, k.Thumbprint))
			}
		}
		keys.reindex()
	}
	now := r.now()
	r.cur.Store(&keyState{keys: keys, fetchedAt: now, interval: interval, usableTil: now.Add(interval + r.cfg.StaleWindow)})
	switch {
	case old == nil:
		r.log.Info("jwks loaded", "issuer", r.cfg.Name, "keys", len(keys.keys), "refresh", interval.String())
	case len(added) > 0 || len(removed) > 0:
		r.log.Info("jwks changed", "issuer", r.cfg.Name, "added", added, "removed", removed, "refresh", interval.String())
	}
}

// same returns s's key equal to k (kid, thumbprint, algorithms), or nil.
func (s *StaticKeys) same(k *VerificationKey) *VerificationKey {
	for _, o := range s.keys {
		if o.ID == k.ID && o.Thumbprint == k.Thumbprint && slices.Equal(o.Algorithms, k.Algorithms) {
			return o
		}
	}
	return nil
}

// holds reports whether k itself (the same pointer) is one of s's keys.
func (s *StaticKeys) holds(k *VerificationKey) bool {
	if k.ID != "" {
		return slices.Contains(s.byID[k.ID], k)
	}
	return slices.Contains(s.keys, k)
}

// reindex rebuilds byID after keys were replaced.
func (s *StaticKeys) reindex() {
	s.byID = map[string][]*VerificationKey{}
	for _, k := range s.keys {
		if k.ID != "" {
			s.byID[k.ID] = append(s.byID[k.ID], k)
		}
	}
}
