package gateway

import (
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/authn/keymanager"
)

// InternalKeyManagerConfig enables the key manager the gateway ships: an
// OAuth 2.0 token endpoint (client_credentials) for the applications of the
// bundle data, with introspection, revocation, metadata and JWKS, whose
// tokens the gateway validates in process. Bearer schemes list it by name
// in key_managers.
type InternalKeyManagerConfig struct {
	// Name is the identity source of its tokens (default "gatehouse").
	Name string `json:"name"`
	// Issuer is its issuer identifier: the iss of its tokens and the base
	// URL its metadata names the endpoints under (where clients reach it).
	Issuer string `json:"issuer"`
	// Listen is "admin" (the admin listener, default) or an address for a
	// dedicated listener; TLS serves that listener over HTTPS.
	Listen string     `json:"listen"`
	TLS    *TLSConfig `json:"tls"`
	// TokenFormat is opaque (default) or jwt (signed with SigningKeyFile).
	TokenFormat    string   `json:"token_format"`
	TokenLifetime  Duration `json:"token_lifetime"`
	SigningKeyFile string   `json:"signing_key_file"`
	Algorithm      string   `json:"algorithm"`
	// SubscriptionValidation (default true): its tokens may call an API
	// only when their application is subscribed to it.
	SubscriptionValidation *bool `json:"subscription_validation"`
	// CacheTTL bounds in-process validation caching (default 5s; 0s
	// disables): a revocation on another replica takes effect within it.
	CacheTTL *Duration `json:"cache_ttl"`
	// Store keeps issued tokens: a file (default) or Redis.
	Store keymanager.StoreConfig `json:"store"`
}

// Defaults and limits of internal_key_manager.
const (
	MaxInternalKMCacheTTL   = 5 * time.Minute
	InternalKMListenAdmin   = "admin"
	DefaultInternalKMFormat = keymanager.FormatOpaque
)

func (c *Config) applyInternalKMDefaults() {
	k := c.InternalKeyManager
	if k == nil {
		return
	}
	if k.Name == "" {
		k.Name = keymanager.DefaultName
	}
	if k.Listen == "" {
		k.Listen = InternalKMListenAdmin
	}
	if k.TokenFormat == "" {
		k.TokenFormat = DefaultInternalKMFormat
	}
	setDur(&k.TokenLifetime, keymanager.DefaultLifetime)
	if k.Algorithm == "" {
		k.Algorithm = "ES256"
	}
	if k.SubscriptionValidation == nil {
		t := true
		k.SubscriptionValidation = &t
	}
	if k.Store.Type == "" {
		k.Store.Type = keymanager.StoreFile
	}
	if k.Store.Type == keymanager.StoreFile && k.Store.Path == "" {
		k.Store.Path = keymanager.DefaultStorePath
	}
}

// checkInternalKM performs the semantic checks of internal_key_manager.
func (c *Config) checkInternalKM(add func(ptr, format string, args ...any)) {
	k := c.InternalKeyManager
	if k == nil {
		return
	}
	const p = "/internal_key_manager"
	for _, is := range c.Issuers {
		if is.Name == k.Name {
			add(p+"/name", "key manager name %q is also an issuer name: identity sources must be unique", k.Name)
		}
	}
	if u, err := url.Parse(k.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		add(p+"/issuer", "issuer must be an http(s) URL without query or fragment: the base URL clients reach the endpoints at")
	}
	if d := k.TokenLifetime.D(); d < time.Minute || d > keymanager.MaxLifetime {
		add(p+"/token_lifetime", "token_lifetime must be between 1m and %s", keymanager.MaxLifetime)
	}
	jwt := k.TokenFormat == keymanager.FormatJWT
	if jwt && k.SigningKeyFile == "" {
		add(p+"/signing_key_file", "token_format jwt needs signing_key_file")
	}
	if !jwt && k.SigningKeyFile != "" {
		add(p+"/signing_key_file", "signing_key_file only applies to token_format: jwt")
	}
	if k.CacheTTL != nil && k.CacheTTL.D() > MaxInternalKMCacheTTL {
		add(p+"/cache_ttl", "must be at most %s (revocations on other replicas take effect within it)", MaxInternalKMCacheTTL)
	}
	admin := k.Listen == InternalKMListenAdmin
	switch {
	case admin && k.TLS != nil:
		add(p+"/tls", "tls applies to a dedicated listener; the admin listener is plain HTTP")
	case admin && c.Admin.Address != nil && *c.Admin.Address == "":
		add(p+"/listen", "the key manager is on the admin listener, which is disabled (admin.address is empty)")
	case !admin && k.TLS == nil && !loopbackAddress(k.Listen):
		add(p+"/tls", "a dedicated listener on a non-loopback address needs tls: client secrets and tokens cross it")
	}
	s := k.Store
	sp := p + "/store"
	switch s.Type {
	case keymanager.StoreFile:
		if s.Config.Set() || s.KeyPrefix != "" {
			add(sp, "the redis settings (address, addresses, master_name, username, password, db, key_prefix, tls, ...) only apply to type: redis")
		}
	case keymanager.StoreRedis:
		s.Config.Check(sp, add)
		if s.Path != "" {
			add(sp+"/path", "path only applies to type: file")
		}
	}
	for name, sc := range c.Schemes {
		for i, n := range sc.KeyManagers {
			if n == k.Name && jwt && !sc.IntrospectJWTs {
				add("/schemes/"+escapePointer(name)+"/key_managers/"+strconv.Itoa(i), "key manager %q issues JWTs: set introspect_jwts: true on this scheme so they reach it", n)
			}
		}
	}
}

func loopbackAddress(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
