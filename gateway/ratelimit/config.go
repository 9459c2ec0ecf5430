package ratelimit

import (
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
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

// RedisConfig is the Redis that holds shared counters.
type RedisConfig struct {
	Address   string          `json:"address"`
	Username  string          `json:"username"`
	Password  config.Secret   `json:"password"`
	DB        int             `json:"db"`
	TLS       bool            `json:"tls"`
	KeyPrefix string          `json:"key_prefix"`
	Timeout   config.Duration `json:"timeout"`
}

// Rate limit defaults.
const (
	DefaultMaxKeys   = 100000
	DefaultKeyPrefix = "gatehouse:rl:"
	DefaultTimeout   = 100 * time.Millisecond
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
	for name, r := range map[string]*Rate{"per_ip": rl.PerIP, "failures": rl.Failures} {
		if r != nil && float64(r.Burst) < r.RequestsPerSecond && r.RequestsPerSecond >= 1 {
			add(fmt.Sprintf("/rate_limits/%s/burst", name), "burst %d is below requests_per_second %g: the bucket could never hold one second of traffic", r.Burst, r.RequestsPerSecond)
		}
	}
}
