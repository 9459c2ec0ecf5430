package authn

import (
	"crypto/x509"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/internal/config"
)

// KeyManagerConfig is one external key manager as the configuration file
// writes it (an entry of key_managers, schemas/config.schema.json): an
// authorization server's RFC 7662 introspection endpoint, for bearer
// schemes that list it. NewIntrospection builds its client.
type KeyManagerConfig struct {
	Name             string `json:"name"`
	IntrospectionURL string `json:"introspection_url"`
	// AuthMethod is how the gateway authenticates to the endpoint:
	// client_secret_basic (default), client_secret_post, bearer or none.
	AuthMethod   string          `json:"auth_method"`
	ClientID     string          `json:"client_id"`
	ClientSecret config.Secret   `json:"client_secret"`
	BearerToken  config.Secret   `json:"bearer_token"`
	Timeout      config.Duration `json:"timeout"`
	// CAFiles verify the endpoint's certificate (system roots when empty);
	// TLSServerName overrides the name checked.
	CAFiles       []string            `json:"ca_files"`
	TLSServerName string              `json:"tls_server_name"`
	Claims        IntrospectionClaims `json:"claims"`
	// TokenPrefix (e.g. ory_at_) and TokenPattern (a Go regexp matched
	// against the whole token) route opaque tokens to this key manager
	// only (Bearer).
	TokenPrefix  string `json:"token_prefix"`
	TokenPattern string `json:"token_pattern"`
	// Issuer, when set, must be the answer's iss; Audiences, when set, must
	// hold one member of its aud.
	Issuer                 string   `json:"issuer"`
	Audiences              []string `json:"audiences"`
	SubscriptionValidation bool     `json:"subscription_validation"`
	// CacheTTL (default 60s; 0s disables) bounds cached active answers,
	// never past exp; NegativeCacheTTL (default 10s; 0s disables) inactive
	// ones.
	CacheTTL         *config.Duration `json:"cache_ttl"`
	NegativeCacheTTL *config.Duration `json:"negative_cache_ttl"`
	CacheSize        int              `json:"cache_size"`
}

// Limits of a key manager's configuration.
const (
	MinKeyManagerTimeout = 100 * time.Millisecond
	MaxKeyManagerTimeout = 30 * time.Second
	MaxKeyManagerCache   = time.Hour
)

// SetDefaults fills in the auth method and the timeout.
func (c *KeyManagerConfig) SetDefaults() {
	if c.AuthMethod == "" {
		c.AuthMethod = AuthClientSecretBasic
	}
	config.SetDefault(&c.Timeout, DefaultIntrospectionTimeout)
}

// Validate checks the key manager's settings on their own (names across
// key managers, issuers and schemes are the caller's), reporting each
// problem at its JSON pointer under ptr.
func (c *KeyManagerConfig) Validate(ptr string, add func(ptr, format string, args ...any)) {
	if err := CheckIntrospectionURL(c.IntrospectionURL); err != nil {
		add(ptr+"/introspection_url", "%v", err)
	}
	switch c.AuthMethod {
	case AuthClientSecretBasic, AuthClientSecretPost:
		if c.ClientID == "" || c.ClientSecret == "" {
			add(ptr, "auth_method %s needs client_id and client_secret", c.AuthMethod)
		}
		if c.BearerToken != "" {
			add(ptr+"/bearer_token", "bearer_token only applies to auth_method: bearer")
		}
	case AuthBearer:
		if c.BearerToken == "" {
			add(ptr+"/bearer_token", "auth_method bearer needs bearer_token")
		}
		if c.ClientSecret != "" {
			add(ptr+"/client_secret", "client_secret does not apply to auth_method: bearer")
		}
	case AuthNone:
		for _, kv := range [...]struct {
			key string
			set bool
		}{{"client_id", c.ClientID != ""}, {"client_secret", c.ClientSecret != ""}, {"bearer_token", c.BearerToken != ""}} {
			if kv.set {
				add(ptr+"/"+kv.key, "%s does not apply to auth_method: none (the gateway sends no client credentials)", kv.key)
			}
		}
	}
	if d := c.Timeout.D(); d < MinKeyManagerTimeout || d > MaxKeyManagerTimeout {
		add(ptr+"/timeout", "timeout must be between %s and %s", MinKeyManagerTimeout, MaxKeyManagerTimeout)
	}
	for key, d := range map[string]*config.Duration{"cache_ttl": c.CacheTTL, "negative_cache_ttl": c.NegativeCacheTTL} {
		if d != nil && d.D() > MaxKeyManagerCache {
			add(ptr+"/"+key, "must be at most %s", MaxKeyManagerCache)
		}
	}
	if c.TokenPattern != "" {
		if _, err := compileTokenPattern(c.TokenPattern); err != nil {
			add(ptr+"/token_pattern", "%v", err)
		}
	}
	if c.SubscriptionValidation && c.Claims.Application == "" {
		add(ptr+"/subscription_validation", "key manager %q validates subscriptions but names no application member: set claims.application (e.g. client_id)", c.Name)
	}
}

// KeyManagerFiles says how a key manager's secrets and CA files are read:
// Dir resolves file: secret references, CAPool reads ca_files. Pointer is
// the key manager's JSON pointer in the configuration (/key_managers/N):
// errors about a secret or file are placed at its key
// (internal/config.KeyError).
type KeyManagerFiles struct {
	Pointer string
	Dir     string
	CAPool  func(files []string) (*x509.CertPool, error)
	Logger  hclog.Logger
}

// NewIntrospection resolves the key manager's secret, reads its CA files
// and returns its introspection client.
func (c *KeyManagerConfig) NewIntrospection(in KeyManagerFiles) (*Introspection, error) {
	ic := IntrospectionConfig{
		Name:             c.Name,
		URL:              c.IntrospectionURL,
		AuthMethod:       c.AuthMethod,
		ClientID:         c.ClientID,
		Timeout:          c.Timeout.D(),
		ServerName:       c.TLSServerName,
		Issuer:           c.Issuer,
		Audiences:        c.Audiences,
		CacheSize:        c.CacheSize,
		CacheTTL:         config.OptionalTTL(c.CacheTTL),
		NegativeCacheTTL: config.OptionalTTL(c.NegativeCacheTTL),
		Claims:           c.Claims,
		Logger:           in.Logger,

		SubscriptionValidation: c.SubscriptionValidation,
	}
	ic.TokenPrefix = c.TokenPrefix
	if c.TokenPattern != "" {
		re, err := compileTokenPattern(c.TokenPattern)
		if err != nil {
			return nil, config.AtKey(in.Pointer+"/token_pattern", fmt.Errorf("key manager %q: %w", c.Name, err))
		}
		ic.TokenPattern = re
	}
	var err error
	secretKey := in.Pointer + "/client_secret"
	switch c.AuthMethod {
	case AuthNone:
	case AuthBearer:
		secretKey = in.Pointer + "/bearer_token"
		ic.BearerToken, err = c.BearerToken.Resolve(in.Dir)
	default:
		ic.ClientSecret, err = c.ClientSecret.Resolve(in.Dir)
	}
	if err != nil {
		return nil, config.AtKey(secretKey, fmt.Errorf("key manager %q: %w", c.Name, err))
	}
	if len(c.CAFiles) > 0 {
		if ic.RootCAs, err = in.CAPool(c.CAFiles); err != nil {
			return nil, config.AtKey(in.Pointer+"/ca_files", fmt.Errorf("key manager %q: ca_files: %w", c.Name, err))
		}
	}
	km, err := NewIntrospection(ic)
	if err != nil {
		return nil, config.AtKey(in.Pointer, fmt.Errorf("key manager %q: %w", c.Name, err))
	}
	return km, nil
}

// compileTokenPattern compiles a token_pattern anchored at both ends, so
// a pattern written as "gk_[a-z0-9]+" cannot match inside another
// domain's token.
func compileTokenPattern(p string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + p + `)$`)
	if err != nil {
		return nil, fmt.Errorf("token_pattern is not a valid regular expression: %w", err)
	}
	return re, nil
}
