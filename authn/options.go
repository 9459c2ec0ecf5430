package authn

import (
	"runtime"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Option configures an authenticator built by NewBasic or NewJWT. Options that
// do not apply to an authenticator are ignored by it.
type Option func(*options)

type options struct {
	now          func() time.Time
	logger       hclog.Logger
	cacheSize    int
	cacheTTL     time.Duration
	cacheTTLSet  bool
	maxTokenSize int
	realm        string
	bcryptSlots  int
}

// Defaults shared by the authenticators.
const (
	// DefaultCacheTTL bounds how long a verified credential is served from
	// cache (never past the credential's own expiry).
	DefaultCacheTTL = 5 * time.Minute
	// DefaultMaxTokenSize is the longest bearer token accepted, in bytes.
	DefaultMaxTokenSize = 16 << 10
	// MaxBasicHeaderSize is the longest Basic Authorization value accepted.
	MaxBasicHeaderSize = 4 << 10
)

func buildOptions(opts []Option) options {
	o := options{
		now:          time.Now,
		cacheSize:    DefaultCacheSize,
		cacheTTL:     DefaultCacheTTL,
		maxTokenSize: DefaultMaxTokenSize,
		bcryptSlots:  2 * runtime.GOMAXPROCS(0),
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.logger == nil {
		o.logger = hclog.NewNullLogger()
	}
	return o
}

// WithClock sets the clock used for expiry checks and cache lifetimes
// (time.Now by default). For tests.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithLogger sets the logger; authenticators log only at construction (keys
// skipped, settings clamped), never per request.
func WithLogger(l hclog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithCacheSize bounds the verified-credential cache (DefaultCacheSize
// entries by default).
func WithCacheSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.cacheSize = n
		}
	}
}

// WithCacheTTL sets how long a verified credential may be served from cache
// (DefaultCacheTTL by default; never past the credential's expiry). Zero or a
// negative value disables the cache.
func WithCacheTTL(d time.Duration) Option {
	return func(o *options) { o.cacheTTL, o.cacheTTLSet = d, true }
}

// WithMaxTokenSize sets the longest bearer token accepted (DefaultMaxTokenSize
// by default). Longer tokens are rejected as malformed before any parsing.
func WithMaxTokenSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxTokenSize = n
		}
	}
}

// WithRealm sets the realm an authenticator names in its challenge.
func WithRealm(realm string) Option {
	return func(o *options) { o.realm = realm }
}

// WithBcryptConcurrency bounds how many bcrypt comparisons a Basic
// authenticator runs at once (2×GOMAXPROCS by default), so a flood of wrong
// passwords queues instead of starving every other request of CPU.
func WithBcryptConcurrency(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.bcryptSlots = n
		}
	}
}
