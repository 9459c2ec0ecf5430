package config

import (
	"time"

	shared "github.com/gatehouse/gatehouse/internal/config"
)

// Defaults, as documented in README.md, "Configuration reference".
const (
	DefaultAddress           = ":8443"
	DefaultAdminAddress      = "127.0.0.1:9901"
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultDrainDelay        = 5 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxStreams        = 250
	DefaultIdentityHeader    = "X-JWT-Assertion"
	DefaultIdentityLifetime  = 5 * time.Minute
	DefaultDecisionTimeout   = time.Second
	DefaultUpstreamTimeout   = 60 * time.Second
	DefaultIdleConnsPerHost  = 256
)

func (c *Config) applyDefaults() {
	l := &c.Listen
	if l.Address == "" {
		l.Address = DefaultAddress
	}
	setDur(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDur(&l.IdleTimeout, DefaultIdleTimeout)
	setDur(&l.ShutdownTimeout, DefaultShutdownTimeout)
	setDur(&l.DrainDelay, DefaultDrainDelay)
	c.Readiness.ApplyDefaults()
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxConcurrentStreams == 0 {
		l.MaxConcurrentStreams = DefaultMaxStreams
	}
	if c.Admin.Address == nil {
		a := DefaultAdminAddress
		c.Admin.Address = &a
	}
	for i := range c.APIs {
		setDur(&c.APIs[i].UpstreamTimeout, DefaultUpstreamTimeout)
	}
	if c.Policy.Base == nil {
		t := true
		c.Policy.Base = &t
	}
	setDur(&c.Policy.DecisionTimeout, DefaultDecisionTimeout)
	u := &c.Upstream
	if u.MaxIdleConnsPerHost == 0 {
		u.MaxIdleConnsPerHost = DefaultIdleConnsPerHost
	}
	setDur(&u.DialTimeout, 5*time.Second)
	setDur(&u.IdleConnTimeout, 90*time.Second)
	id := &c.UpstreamIdentity
	if id.Enabled == nil {
		t := true
		id.Enabled = &t
	}
	if id.Header == "" {
		id.Header = DefaultIdentityHeader
	}
	if id.Issuer == "" {
		id.Issuer = "gatehouse"
	}
	setDur(&id.Lifetime, DefaultIdentityLifetime)
	// id.Algorithm stays empty unless set: a key file signs with its own
	// algorithm, a generated key is assertion.DefaultAlgorithm.
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	if c.Log.Audit == nil {
		t := true
		c.Log.Audit = &t
	}
	c.applyBundleDefaults()
	c.applyAPIKeyDefaults()
	c.Limits.ApplyDefaults()
	if c.RateLimits != nil {
		c.RateLimits.ApplyDefaults()
	}
	c.applyKeyManagerDefaults()
	c.applyInternalKMDefaults()
	if c.Tracing != nil {
		c.Tracing.ApplyDefaults()
	}
}

func setDur(d *Duration, def time.Duration) { shared.SetDefault(d, def) }
