package gateway

import (
	"fmt"
	"time"
)

// RateLimitsConfig configures request rate limits (ratelimit.go). Limits per
// application and plan come from bundle data (data.gatehouse.plans); the
// per-client-IP limits here are checked before any verification.
type RateLimitsConfig struct {
	// PerIP bounds unauthenticated traffic per client IP (IPv6: per /64):
	// public routes, requests without credentials, failed authentication.
	// An IP over it gets 429 before anything is verified.
	PerIP *RateConfig `json:"per_ip"`
	// Failures bounds failed authentications per client IP and credential
	// (the Basic user name; a hash of any other credential), so guessing
	// one user's password is throttled without locking the user out from
	// anywhere else.
	Failures *RateConfig `json:"failures"`
	// Redis shares the counters across replicas; local counters otherwise.
	Redis *RateRedisConfig `json:"redis"`
	// TrustedProxies are load balancers (addresses or CIDRs) whose
	// X-Forwarded-For names the client: from them, the client is the
	// rightmost address in it that is not a trusted proxy itself.
	TrustedProxies []string `json:"trusted_proxies"`
	// MaxKeys bounds the local counters (default 100000); past it new keys
	// are not counted.
	MaxKeys int `json:"max_keys"`
}

// RateConfig is a token bucket: a sustained rate and a burst.
type RateConfig struct {
	RequestsPerSecond float64 `json:"requests_per_second"`
	Burst             int     `json:"burst"`
}

// RateRedisConfig is the Redis that holds shared counters.
type RateRedisConfig struct {
	Address   string   `json:"address"`
	Username  string   `json:"username"`
	Password  Secret   `json:"password"`
	DB        int      `json:"db"`
	TLS       bool     `json:"tls"`
	KeyPrefix string   `json:"key_prefix"`
	Timeout   Duration `json:"timeout"`
}

// Rate limit defaults.
const (
	DefaultRateMaxKeys   = 100000
	DefaultRateKeyPrefix = "gatehouse:rl:"
	DefaultRateTimeout   = 100 * time.Millisecond
)

func (c *Config) applyRateLimitDefaults() {
	rl := c.RateLimits
	if rl == nil {
		return
	}
	if rl.MaxKeys == 0 {
		rl.MaxKeys = DefaultRateMaxKeys
	}
	if r := rl.Redis; r != nil {
		if r.KeyPrefix == "" {
			r.KeyPrefix = DefaultRateKeyPrefix
		}
		setDur(&r.Timeout, DefaultRateTimeout)
	}
}

// checkRateLimits is the part of Config.check for rate_limits.
func (c *Config) checkRateLimits(add func(ptr, format string, args ...any)) {
	rl := c.RateLimits
	if rl == nil {
		return
	}
	for i, p := range rl.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			add(fmt.Sprintf("/rate_limits/trusted_proxies/%d", i), "%v", err)
		}
	}
	for name, r := range map[string]*RateConfig{"per_ip": rl.PerIP, "failures": rl.Failures} {
		if r != nil && float64(r.Burst) < r.RequestsPerSecond && r.RequestsPerSecond >= 1 {
			add(fmt.Sprintf("/rate_limits/%s/burst", name), "burst %d is below requests_per_second %g: the bucket could never hold one second of traffic", r.Burst, r.RequestsPerSecond)
		}
	}
}
