package ratelimit

import (
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/redisconn"
)

// Config (rate_limits) configures request rate limits. Limits per
// application and plan come from bundle data (data.gatehouse.plans); the
// per-client-IP limits here are checked before any verification.
type Config struct {
	// PerIP bounds unauthenticated traffic per client IP (IPv6: per /64):
	// public routes, requests without credentials, failed authentication.
	// An IP over it gets 429 before anything is verified.
	PerIP *Rate `json:"per_ip"`
	// Failures bounds failed authentications per client IP and credential
	// (the Basic user name; a hash of any other credential), so guessing
	// one user's password is throttled without locking the user out from
	// anywhere else.
	Failures *Rate `json:"failures"`
	// Redis shares the counters across replicas; local counters otherwise.
	Redis *RedisConfig `json:"redis"`
	// TrustedProxies are load balancers (addresses or CIDRs) whose
	// X-Forwarded-For names the client: from them, the client is the
	// rightmost address in it that is not a trusted proxy itself.
	TrustedProxies []string `json:"trusted_proxies"`
	// MaxKeys bounds the local counters (default 100000); past it new keys
	// are not counted.
	MaxKeys int `json:"max_keys"`
}

// Rate is a token bucket: a sustained rate and a burst.
type Rate struct {
	RequestsPerSecond float64 `json:"requests_per_second"`
	Burst             int     `json:"burst"`
}

// RedisConfig is the Redis that holds shared counters, and what happens
// when it cannot answer.
type RedisConfig struct {
	redisconn.Config
	KeyPrefix string `json:"key_prefix"`
	// Timeout bounds one Redis call; past it the store counts as
	// unavailable and OnStoreError decides.
	Timeout config.Duration `json:"timeout"`
	// OnStoreError decides checks while Redis is unavailable: local
	// (default) counts in this process with each limit divided by Replicas,
	// deny answers 429, allow lets every request through.
	OnStoreError string `json:"on_store_error"`
	// Replicas is how many gateway processes share the limits (default 1):
	// the local fallback and the synchronized mode give each replica this
	// share of a limit.
	Replicas int `json:"replicas"`
	// SyncInterval, when set, counts locally and reconciles with Redis in
	// one batch per interval instead of one round trip per check.
	SyncInterval config.Duration `json:"sync_interval"`
}

// on_store_error modes.
const (
	OnErrorLocal = "local"
	OnErrorDeny  = "deny"
	OnErrorAllow = "allow"
)

// Rate limit defaults.
const (
	DefaultMaxKeys   = 100000
	DefaultKeyPrefix = "gatehouse:rl:"
	DefaultTimeout   = 100 * time.Millisecond
	// MinSyncInterval keeps the synchronized mode from becoming one call
	// per check under another name.
	MinSyncInterval = time.Millisecond
)

// ApplyDefaults fills unset values.
func (rl *Config) ApplyDefaults() {
	if rl.MaxKeys == 0 {
		rl.MaxKeys = DefaultMaxKeys
	}
	if r := rl.Redis; r != nil {
		if r.KeyPrefix == "" {
			r.KeyPrefix = DefaultKeyPrefix
		}
		config.SetDefault(&r.Timeout, DefaultTimeout)
		if r.OnStoreError == "" {
			r.OnStoreError = OnErrorLocal
		}
		if r.Replicas == 0 {
			r.Replicas = 1
		}
	}
}

// Check reports problems of rate_limits that need no other file; add
// takes a JSON pointer below the document root.
func (rl *Config) Check(add func(ptr, format string, args ...any)) {
	for i, p := range rl.TrustedProxies {
		if _, err := config.ParsePrefix(p); err != nil {
			add(fmt.Sprintf("/rate_limits/trusted_proxies/%d", i), "%v", err)
		}
	}
	if r := rl.Redis; r != nil {
		const p = "/rate_limits/redis"
		r.Config.Check(p, add)
		switch r.OnStoreError {
		case "", OnErrorLocal, OnErrorDeny, OnErrorAllow:
		default:
			add(p+"/on_store_error", "on_store_error must be local, deny or allow, not %q", r.OnStoreError)
		}
		if r.Replicas < 0 {
			add(p+"/replicas", "replicas must be at least 1")
		}
		if d := r.SyncInterval.D(); d < 0 || d > 0 && d < MinSyncInterval {
			add(p+"/sync_interval", "sync_interval must be at least %s (or unset: one Redis call per check)", MinSyncInterval)
		}
	}
	for name, r := range map[string]*Rate{"per_ip": rl.PerIP, "failures": rl.Failures} {
		if r != nil && float64(r.Burst) < r.RequestsPerSecond && r.RequestsPerSecond >= 1 {
			add(fmt.Sprintf("/rate_limits/%s/burst", name), "burst %d is below requests_per_second %g: the bucket could never hold one second of traffic", r.Burst, r.RequestsPerSecond)
		}
	}
}
