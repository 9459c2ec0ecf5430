package authn

import (
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/internal/config"
)

// IssuerConfig is one trusted JWT issuer as the configuration file writes it
// (an entry of issuers, schemas/config.schema.json): where its keys come
// from and what its tokens must carry. NewIssuer turns it into the Issuer
// the JWT verifier runs with.
type IssuerConfig struct {
	Name             string           `json:"name"`
	Issuer           string           `json:"issuer"`
	JWKSFile         string           `json:"jwks_file"`
	CertificateFiles []string         `json:"certificate_files"`
	HMACSecret       config.Secret    `json:"hmac_secret"`
	Audiences        []string         `json:"audiences"`
	AllowAnyAudience bool             `json:"allow_any_audience"`
	Algorithms       []string         `json:"algorithms"`
	Leeway           *config.Duration `json:"leeway"`
	MaxLifetime      *config.Duration `json:"max_lifetime"`
	RequiredClaims   []string         `json:"required_claims"`
	Typ              []string         `json:"typ"`
	Claims           ClaimMapping     `json:"claims"`
	CacheTTL         config.Duration  `json:"cache_ttl"`
	// Remote key sources and subscription validation.
	RemoteIssuerConfig
}

// RemoteIssuerConfig is the part of an issuer's config about keys fetched
// over the network (a JWKS URL or OpenID discovery) and subscription
// validation. Embedded in IssuerConfig.
type RemoteIssuerConfig struct {
	// JWKSURL is the issuer's key set; DiscoveryURL its OpenID Provider
	// configuration (jwks_uri is taken from it); Discovery: true derives
	// the discovery URL from the issuer (iss + /.well-known/openid-configuration).
	JWKSURL      string `json:"jwks_url"`
	DiscoveryURL string `json:"discovery_url"`
	Discovery    bool   `json:"discovery"`
	// AllowInsecureHTTP permits plain http key URLs to non-loopback hosts.
	AllowInsecureHTTP bool `json:"allow_insecure_http"`
	// AllowedJWKSHosts: hosts a discovery document's jwks_uri may name
	// besides the issuer's own (RemoteJWKSConfig.AllowedJWKSHosts).
	AllowedJWKSHosts []string `json:"allowed_jwks_hosts"`
	// CAFiles are the roots that verify the key server (system roots when empty).
	CAFiles     []string          `json:"ca_files"`
	JWKSRefresh JWKSRefreshConfig `json:"jwks_refresh"`
	// SubscriptionValidation: this issuer's tokens may call an API only when
	// their application (claims.application) is subscribed to it.
	SubscriptionValidation bool `json:"subscription_validation"`
}

// JWKSRefreshConfig bounds how a remote key set is kept fresh; zero values
// take the defaults (10m, 5m, 10m, 1h).
type JWKSRefreshConfig struct {
	Interval    config.Duration `json:"interval"`
	Min         config.Duration `json:"min"`
	Max         config.Duration `json:"max"`
	StaleWindow config.Duration `json:"stale_window"`
}

// Remote reports whether the issuer's keys are fetched over the network.
func (c *IssuerConfig) Remote() bool {
	return c.JWKSURL != "" || c.DiscoveryURL != "" || c.Discovery
}

// discoveryURL is the discovery document URL, "" without discovery.
func (c *IssuerConfig) discoveryURL() string {
	if c.Discovery {
		return DiscoveryURLFor(c.Issuer)
	}
	return c.DiscoveryURL
}

// effective applies the defaults to the refresh settings.
func (r JWKSRefreshConfig) effective() (interval, lo, hi, stale time.Duration) {
	pick := func(d config.Duration, def time.Duration) time.Duration {
		if d == 0 {
			return def
		}
		return d.D()
	}
	lo = pick(r.Min, MinJWKSRefresh)
	hi = pick(r.Max, max(DefaultJWKSMaxAge, r.Interval.D(), r.Min.D()))
	interval = pick(r.Interval, min(max(DefaultJWKSRefresh, lo), hi))
	stale = pick(r.StaleWindow, DefaultJWKSStaleWindow)
	return interval, lo, hi, stale
}

// Validate checks the issuer's settings on their own (names across issuers
// and schemes are the caller's), reporting each problem at its JSON pointer
// under ptr.
func (c *IssuerConfig) Validate(ptr string, add func(ptr, format string, args ...any)) {
	c.validateKeys(ptr, add)
	if len(c.Audiences) == 0 && !c.AllowAnyAudience {
		add(ptr+"/audiences", "issuer %q accepts no audience: list audiences (or set allow_any_audience: true explicitly)", c.Name)
	}
	if c.Leeway != nil && (c.Leeway.D() < 0 || c.Leeway.D() > MaxLeeway) {
		add(ptr+"/leeway", "leeway must be between 0s and 5m")
	}
}

// validateKeys checks where the issuer's keys come from, and the settings
// that only make sense with remote keys.
func (c *IssuerConfig) validateKeys(ptr string, add func(ptr, format string, args ...any)) {
	sources := 0
	for _, set := range []bool{c.JWKSFile != "", len(c.CertificateFiles) > 0, c.HMACSecret != "", c.JWKSURL != "", c.DiscoveryURL != "", c.Discovery} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		add(ptr, "issuer %q needs exactly one key source: jwks_file, certificate_files, hmac_secret, jwks_url, discovery_url or discovery", c.Name)
	}
	if c.SubscriptionValidation && c.Claims.Application == "" {
		add(ptr+"/subscription_validation", "issuer %q validates subscriptions but names no application claim: set claims.application", c.Name)
	}
	if !c.Remote() {
		if c.AllowInsecureHTTP || len(c.CAFiles) > 0 || c.JWKSRefresh != (JWKSRefreshConfig{}) {
			add(ptr, "issuer %q: allow_insecure_http, ca_files and jwks_refresh only apply to jwks_url, discovery_url or discovery", c.Name)
		}
		return
	}
	for key, u := range map[string]string{"jwks_url": c.JWKSURL, "discovery_url": c.DiscoveryURL} {
		if u == "" {
			continue
		}
		if err := CheckJWKSURL(u, c.AllowInsecureHTTP); err != nil {
			add(ptr+"/"+key, "%v", err)
		}
	}
	if c.Discovery {
		if err := CheckJWKSURL(c.discoveryURL(), c.AllowInsecureHTTP); err != nil {
			add(ptr+"/discovery", "discovery needs an https issuer URL to find its configuration: %v", err)
		}
	}
	rp := ptr + "/jwks_refresh"
	interval, lo, hi, stale := c.JWKSRefresh.effective()
	for key, d := range map[string]time.Duration{"interval": interval, "min": lo, "max": hi} {
		if d < MinJWKSRefresh || d > MaxJWKSRefresh {
			add(rp+"/"+key, "must be between %s and %s", MinJWKSRefresh, MaxJWKSRefresh)
		}
	}
	if lo > interval || interval > hi {
		add(rp, "need min <= interval <= max (they are %s, %s, %s with defaults applied)", lo, interval, hi)
	}
	if stale > MaxJWKSStaleWindow {
		add(rp+"/stale_window", "must be at most %s", MaxJWKSStaleWindow)
	}
}

// RemoteJWKSConfig is the configuration of the issuer's remote keys
// (ca_files are read into RootCAs by the caller, which also shares one
// source across configuration generations).
func (c *IssuerConfig) RemoteJWKSConfig() RemoteJWKSConfig {
	interval, lo, hi, stale := c.JWKSRefresh.effective()
	return RemoteJWKSConfig{
		Name:              c.Name,
		Issuer:            c.Issuer,
		JWKSURL:           c.JWKSURL,
		DiscoveryURL:      c.discoveryURL(),
		AllowInsecureHTTP: c.AllowInsecureHTTP,
		AllowedJWKSHosts:  c.AllowedJWKSHosts,
		RefreshInterval:   interval,
		MinRefresh:        lo,
		MaxRefresh:        hi,
		StaleWindow:       stale,
	}
}

// IssuerFiles says how an issuer's configured files and secrets are read:
// File anchors a configured path, Dir resolves file: secret references,
// Remote returns the (shared) source of remote keys. Pointer is the
// issuer's JSON pointer in the configuration (/issuers/N): errors about a
// file or secret are placed at its key (internal/config.KeyError).
type IssuerFiles struct {
	Pointer string
	File    func(path string) string
	Dir     string
	Remote  func(*IssuerConfig) (KeySource, error)
	Logger  hclog.Logger
}

// DefaultMaxLifetime is max_lifetime when an issuer does not set it: a
// token valid for longer (exp − iat, or exp − nbf) is refused. 0s in the
// config means unlimited.
const DefaultMaxLifetime = 24 * time.Hour

func (c *IssuerConfig) maxLifetime() time.Duration {
	if c.MaxLifetime == nil {
		return DefaultMaxLifetime
	}
	return c.MaxLifetime.D()
}

// NewIssuer loads the issuer's keys (a JWKS file, PEM certificates, the
// shared secret, or remote keys from in.Remote) and returns the checked
// Issuer.
func (c *IssuerConfig) NewIssuer(in IssuerFiles) (*Issuer, error) {
	is := &Issuer{
		Name:             c.Name,
		Issuer:           c.Issuer,
		Audiences:        c.Audiences,
		AllowAnyAudience: c.AllowAnyAudience,
		Algorithms:       c.Algorithms,
		MaxLifetime:      c.maxLifetime(),
		RequiredClaims:   c.RequiredClaims,
		Types:            c.Typ,
		CacheTTL:         c.CacheTTL.D(),
		Claims:           c.Claims,

		SubscriptionValidation: c.SubscriptionValidation,
	}
	if c.Leeway != nil {
		l := c.Leeway.D()
		is.Leeway = &l
	}
	var err error
	key := in.Pointer
	switch {
	case c.JWKSFile != "":
		key += "/jwks_file"
		is.Keys, err = LoadJWKSFile(in.File(c.JWKSFile), in.Logger)
	case len(c.CertificateFiles) > 0:
		key += "/certificate_files"
		files := make([]string, len(c.CertificateFiles))
		for i, f := range c.CertificateFiles {
			files[i] = in.File(f)
		}
		is.Keys, err = LoadPEMFiles(files...)
	case c.HMACSecret != "":
		key += "/hmac_secret"
		is.Secret, err = c.HMACSecret.Resolve(in.Dir)
	case c.Remote():
		is.Keys, err = in.Remote(c)
	}
	if err != nil {
		return nil, config.AtKey(key, fmt.Errorf("issuer %q: %w", c.Name, err))
	}
	if err := is.Validate(); err != nil {
		return nil, config.AtKey(in.Pointer, err) // Validate names the issuer
	}
	return is, nil
}
