package keymanager

import (
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

// SectionConfig is the internal_key_manager section of the gateway's
// config. It enables the key manager the gateway ships: an
// OAuth 2.0 token endpoint (client_credentials) for the applications of the
// bundle data, with introspection, revocation, metadata and JWKS, whose
// tokens the gateway validates in process. Bearer schemes list it by name
// in key_managers.
type SectionConfig struct {
	// Name is the identity source of its tokens (default "gatehouse").
	Name string `json:"name"`
	// Issuer is its issuer identifier: the iss of its tokens and the base
	// URL its metadata names the endpoints under (where clients reach it).
	Issuer string `json:"issuer"`
	// Listen is "admin" (the admin listener, default) or an address for a
	// dedicated listener; TLS serves that listener over HTTPS.
	Listen string      `json:"listen"`
	TLS    *config.TLS `json:"tls"`
	// TokenFormat is opaque (default) or jwt (signed with SigningKeyFile).
	TokenFormat    string          `json:"token_format"`
	TokenLifetime  config.Duration `json:"token_lifetime"`
	SigningKeyFile string          `json:"signing_key_file"`
	Algorithm      string          `json:"algorithm"`
	// SubscriptionValidation (default true): its tokens may call an API
	// only when their application is subscribed to it.
	SubscriptionValidation *bool `json:"subscription_validation"`
	// CacheTTL bounds in-process validation caching (default 5s; 0s
	// disables): a revocation on another replica takes effect within it.
	CacheTTL *config.Duration `json:"cache_ttl"`
	// Store keeps issued tokens: a file (default) or Redis.
	Store StoreConfig `json:"store"`
}

// Defaults and limits of the section.
const (
	MaxCacheTTL   = 5 * time.Minute
	ListenAdmin   = "admin"
	DefaultFormat = FormatOpaque
)

// ApplyDefaults fills in what the section leaves out.
func (k *SectionConfig) ApplyDefaults() {
	if k.Name == "" {
		k.Name = DefaultName
	}
	if k.Listen == "" {
		k.Listen = ListenAdmin
	}
	if k.TokenFormat == "" {
		k.TokenFormat = DefaultFormat
	}
	config.SetDefault(&k.TokenLifetime, DefaultLifetime)
	if k.Algorithm == "" {
		k.Algorithm = "ES256"
	}
	if k.SubscriptionValidation == nil {
		t := true
		k.SubscriptionValidation = &t
	}
	if k.Store.Type == "" {
		k.Store.Type = StoreFile
	}
	if k.Store.Type == StoreFile && k.Store.Path == "" {
		k.Store.Path = DefaultStorePath
	}
}

// Validate performs the checks of the section (at p) that need no other
// section; adminDisabled says the gateway's admin listener is off.
func (k *SectionConfig) Validate(p string, adminDisabled bool, add func(ptr, format string, args ...any)) {
	if u, err := url.Parse(k.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		add(p+"/issuer", "issuer must be an http(s) URL without query or fragment: the base URL clients reach the endpoints at")
	}
	if d := k.TokenLifetime.D(); d < time.Minute || d > MaxLifetime {
		add(p+"/token_lifetime", "token_lifetime must be between 1m and %s", MaxLifetime)
	}
	jwt := k.TokenFormat == FormatJWT
	if jwt && k.SigningKeyFile == "" {
		add(p+"/signing_key_file", "token_format jwt needs signing_key_file")
	}
	if !jwt && k.SigningKeyFile != "" {
		add(p+"/signing_key_file", "signing_key_file only applies to token_format: jwt")
	}
	if k.CacheTTL != nil && k.CacheTTL.D() > MaxCacheTTL {
		add(p+"/cache_ttl", "must be at most %s (revocations on other replicas take effect within it)", MaxCacheTTL)
	}
	admin := k.Listen == ListenAdmin
	switch {
	case admin && k.TLS != nil:
		add(p+"/tls", "tls applies to a dedicated listener; the admin listener is plain HTTP")
	case admin && adminDisabled:
		add(p+"/listen", "the key manager is on the admin listener, which is disabled (admin.address is empty)")
	case !admin && k.TLS == nil && !config.LoopbackAddress(k.Listen):
		add(p+"/tls", "a dedicated listener on a non-loopback address needs tls: client secrets and tokens cross it")
	}
	s := k.Store
	sp := p + "/store"
	switch s.Type {
	case StoreFile:
		if s.Config.Set() || s.KeyPrefix != "" {
			add(sp, "the redis settings (address, addresses, master_name, username, password, db, key_prefix, tls, ...) only apply to type: redis")
		}
	case StoreRedis:
		s.Config.Check(sp, add)
		if s.Path != "" {
			add(sp+"/path", "path only applies to type: file")
		}
	}
}
