package config

import (
	"slices"
	"strconv"

	"github.com/gatehouse/gatehouse/authn/dpop"
	"github.com/gatehouse/gatehouse/authn/jose"
	"github.com/gatehouse/gatehouse/gateway/ratelimit"
)

// DPoPConfig is the top-level dpop section: how every bearer scheme with
// schemes.<name>.dpop allowed or required checks proofs (authn/dpop).
type DPoPConfig struct {
	// Algorithms the proofs may use (default: every asymmetric one).
	Algorithms []string `json:"algorithms"`
	// MaxAge is how old a proof's iat may be (default 60s, at most 10m).
	MaxAge Duration `json:"max_age"`
	// Nonce makes clients use server nonces (RFC 9449 §9).
	Nonce bool `json:"nonce"`
	// NonceSecret (env: or file:, at least 32 bytes) lets replicas accept
	// each other's nonces; without it each process has a random key.
	NonceSecret Secret `json:"nonce_secret"`
	// Redis shares the jti replay cache among replicas; without it the
	// cache is in memory, per process.
	Redis *ratelimit.RedisConfig `json:"redis"`
}

// RedisConfig is the replay cache's Redis settings with the default key
// prefix filled in (nil: in memory).
func (d *DPoPConfig) RedisConfig() *ratelimit.RedisConfig {
	if d == nil {
		return nil
	}
	if r := d.Redis; r != nil && r.KeyPrefix == "" {
		cp := *r
		cp.KeyPrefix = dpop.DefaultRedisPrefix
		return &cp
	}
	return d.Redis
}

// checkDPoP checks the dpop section (the schemes' modes are checked with
// the schemes, authn.BearerSchemeConfig).
func (c *Config) checkDPoP(add func(ptr, format string, args ...any)) {
	d := c.DPoP
	if d == nil {
		return
	}
	for i, a := range d.Algorithms {
		if !slices.Contains(jose.AsymmetricAlgorithms, a) {
			add("/dpop/algorithms/"+strconv.Itoa(i), "%q is not an asymmetric JWS algorithm", a)
		}
	}
	if m := d.MaxAge.D(); m < 0 || m > dpop.MaxMaxAge {
		add("/dpop/max_age", "max_age must be within (0, %s]", dpop.MaxMaxAge)
	}
	if d.NonceSecret != "" && !d.Nonce {
		add("/dpop/nonce_secret", "nonce_secret needs nonce: true")
	}
	if r := d.Redis; r != nil {
		r.Config.Check("/dpop/redis", add)
	}
}
