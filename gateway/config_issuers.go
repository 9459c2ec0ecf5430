package gateway

import (
	"time"

	"github.com/gatehouse/gatehouse/authn"
)

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
	// CAFiles are the roots that verify the key server (system roots when empty).
	CAFiles     []string          `json:"ca_files"`
	JWKSRefresh JWKSRefreshConfig `json:"jwks_refresh"`
	// SubscriptionValidation: this issuer's tokens may call an API only when
	// their application (claims.application) is subscribed to it.
	SubscriptionValidation bool `json:"subscription_validation"`
}

// JWKSRefreshConfig bounds how a remote key set is kept fresh; zero values
// take the authn defaults (10m, 5m, 10m, 1h).
type JWKSRefreshConfig struct {
	Interval    Duration `json:"interval"`
	Min         Duration `json:"min"`
	Max         Duration `json:"max"`
	StaleWindow Duration `json:"stale_window"`
}

// remote reports whether the issuer's keys are fetched over the network.
func (is *IssuerConfig) remote() bool {
	return is.JWKSURL != "" || is.DiscoveryURL != "" || is.Discovery
}

// discoveryURL is the discovery document URL, "" without discovery.
func (is *IssuerConfig) discoveryURL() string {
	if is.Discovery {
		return authn.DiscoveryURLFor(is.Issuer)
	}
	return is.DiscoveryURL
}

// effective applies the authn defaults to the refresh settings.
func (r JWKSRefreshConfig) effective() (interval, lo, hi, stale time.Duration) {
	pick := func(d Duration, def time.Duration) time.Duration {
		if d == 0 {
			return def
		}
		return d.D()
	}
	lo = pick(r.Min, authn.MinJWKSRefresh)
	hi = pick(r.Max, max(authn.DefaultJWKSMaxAge, r.Interval.D(), r.Min.D()))
	interval = pick(r.Interval, min(max(authn.DefaultJWKSRefresh, lo), hi))
	stale = pick(r.StaleWindow, authn.DefaultJWKSStaleWindow)
	return interval, lo, hi, stale
}

// checkIssuerKeys checks where an issuer's keys come from, and the settings
// that only make sense with remote keys.
func (c *Config) checkIssuerKeys(ptr string, is *IssuerConfig, add func(ptr, format string, args ...any)) {
	sources := 0
	for _, set := range []bool{is.JWKSFile != "", len(is.CertificateFiles) > 0, is.HMACSecret != "", is.JWKSURL != "", is.DiscoveryURL != "", is.Discovery} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		add(ptr, "issuer %q needs exactly one key source: jwks_file, certificate_files, hmac_secret, jwks_url, discovery_url or discovery", is.Name)
	}
	if is.SubscriptionValidation && is.Claims.Application == "" {
		add(ptr+"/subscription_validation", "issuer %q validates subscriptions but names no application claim: set claims.application", is.Name)
	}
	if !is.remote() {
		if is.AllowInsecureHTTP || len(is.CAFiles) > 0 || is.JWKSRefresh != (JWKSRefreshConfig{}) {
			add(ptr, "issuer %q: allow_insecure_http, ca_files and jwks_refresh only apply to jwks_url, discovery_url or discovery", is.Name)
		}
		return
	}
	for key, u := range map[string]string{"jwks_url": is.JWKSURL, "discovery_url": is.DiscoveryURL} {
		if u == "" {
			continue
		}
		if err := authn.CheckJWKSURL(u, is.AllowInsecureHTTP); err != nil {
			add(ptr+"/"+key, "%v", err)
		}
	}
	if is.Discovery {
		if err := authn.CheckJWKSURL(is.discoveryURL(), is.AllowInsecureHTTP); err != nil {
			add(ptr+"/discovery", "discovery needs an https issuer URL to find its configuration: %v", err)
		}
	}
	rp := ptr + "/jwks_refresh"
	interval, lo, hi, stale := is.JWKSRefresh.effective()
	for key, d := range map[string]time.Duration{"interval": interval, "min": lo, "max": hi} {
		if d < authn.MinJWKSRefresh || d > authn.MaxJWKSRefresh {
			add(rp+"/"+key, "must be between %s and %s", authn.MinJWKSRefresh, authn.MaxJWKSRefresh)
		}
	}
	if lo > interval || interval > hi {
		add(rp, "need min <= interval <= max (they are %s, %s, %s with defaults applied)", lo, interval, hi)
	}
	if stale > authn.MaxJWKSStaleWindow {
		add(rp+"/stale_window", "must be at most %s", authn.MaxJWKSStaleWindow)
	}
}

// remoteJWKSConfig is the authn configuration of an issuer's remote keys
// (ca_files already read into roots by the caller).
func (is *IssuerConfig) remoteJWKSConfig() authn.RemoteJWKSConfig {
	interval, lo, hi, stale := is.JWKSRefresh.effective()
	return authn.RemoteJWKSConfig{
		Name:              is.Name,
		Issuer:            is.Issuer,
		JWKSURL:           is.JWKSURL,
		DiscoveryURL:      is.discoveryURL(),
		AllowInsecureHTTP: is.AllowInsecureHTTP,
		RefreshInterval:   interval,
		MinRefresh:        lo,
		MaxRefresh:        hi,
		StaleWindow:       stale,
	}
}
