package gateway

import (
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/authn"
)

// KeyManagerConfig is one external key manager: an authorization server's
// RFC 7662 introspection endpoint, for bearer schemes that list it in
// key_managers.
type KeyManagerConfig struct {
	Name             string `json:"name"`
	IntrospectionURL string `json:"introspection_url"`
	// AuthMethod is how the gateway authenticates to the endpoint:
	// client_secret_basic (default), client_secret_post or bearer.
	AuthMethod   string   `json:"auth_method"`
	ClientID     string   `json:"client_id"`
	ClientSecret Secret   `json:"client_secret"`
	BearerToken  Secret   `json:"bearer_token"`
	Timeout      Duration `json:"timeout"`
	// CAFiles verify the endpoint's certificate (system roots when empty);
	// TLSServerName overrides the name checked.
	CAFiles       []string                  `json:"ca_files"`
	TLSServerName string                    `json:"tls_server_name"`
	Claims        authn.IntrospectionClaims `json:"claims"`
	// Issuer, when set, must be the answer's iss; Audiences, when set, must
	// hold one member of its aud.
	Issuer                 string   `json:"issuer"`
	Audiences              []string `json:"audiences"`
	SubscriptionValidation bool     `json:"subscription_validation"`
	// CacheTTL (default 60s; 0s disables) bounds cached active answers,
	// never past exp; NegativeCacheTTL (default 10s; 0s disables) inactive
	// ones.
	CacheTTL         *Duration `json:"cache_ttl"`
	NegativeCacheTTL *Duration `json:"negative_cache_ttl"`
	CacheSize        int       `json:"cache_size"`
}

// Limits of the key_managers section.
const (
	MinKeyManagerTimeout = 100 * time.Millisecond
	MaxKeyManagerTimeout = 30 * time.Second
	MaxKeyManagerCache   = time.Hour
)

func (c *Config) applyKeyManagerDefaults() {
	for i := range c.KeyManagers {
		km := &c.KeyManagers[i]
		if km.AuthMethod == "" {
			km.AuthMethod = authn.AuthClientSecretBasic
		}
		setDur(&km.Timeout, authn.DefaultIntrospectionTimeout)
	}
}

// keyManagerNames returns the names bearer schemes may list: the external
// key managers and the internal one.
func (c *Config) keyManagerNames() map[string]bool {
	names := map[string]bool{}
	for _, km := range c.KeyManagers {
		names[km.Name] = true
	}
	if ik := c.InternalKeyManager; ik != nil {
		names[ik.Name] = true
	}
	return names
}

// checkKeyManagers performs the semantic checks of key_managers and of the
// schemes' key_managers / introspect_jwts.
func (c *Config) checkKeyManagers(add func(ptr, format string, args ...any)) {
	issuers := map[string]bool{}
	for _, is := range c.Issuers {
		issuers[is.Name] = true
	}
	seen := map[string]int{}
	if ik := c.InternalKeyManager; ik != nil {
		seen[ik.Name] = -1
	}
	for i, km := range c.KeyManagers {
		ptr := fmt.Sprintf("/key_managers/%d", i)
		if j, dup := seen[km.Name]; dup {
			other := "/internal_key_manager"
			if j >= 0 {
				other = fmt.Sprintf("/key_managers/%d", j)
			}
			add(ptr+"/name", "key manager name %q is already used by %s", km.Name, other)
		}
		seen[km.Name] = i
		if issuers[km.Name] {
			add(ptr+"/name", "key manager name %q is also an issuer name: identity sources must be unique", km.Name)
		}
		if err := authn.CheckIntrospectionURL(km.IntrospectionURL); err != nil {
			add(ptr+"/introspection_url", "%v", err)
		}
		switch km.AuthMethod {
		case authn.AuthClientSecretBasic, authn.AuthClientSecretPost:
			if km.ClientID == "" || km.ClientSecret == "" {
				add(ptr, "auth_method %s needs client_id and client_secret", km.AuthMethod)
			}
			if km.BearerToken != "" {
				add(ptr+"/bearer_token", "bearer_token only applies to auth_method: bearer")
			}
		case authn.AuthBearer:
			if km.BearerToken == "" {
				add(ptr+"/bearer_token", "auth_method bearer needs bearer_token")
			}
			if km.ClientSecret != "" {
				add(ptr+"/client_secret", "client_secret does not apply to auth_method: bearer")
			}
		}
		if d := km.Timeout.D(); d < MinKeyManagerTimeout || d > MaxKeyManagerTimeout {
			add(ptr+"/timeout", "timeout must be between %s and %s", MinKeyManagerTimeout, MaxKeyManagerTimeout)
		}
		for key, d := range map[string]*Duration{"cache_ttl": km.CacheTTL, "negative_cache_ttl": km.NegativeCacheTTL} {
			if d != nil && d.D() > MaxKeyManagerCache {
				add(ptr+"/"+key, "must be at most %s", MaxKeyManagerCache)
			}
		}
		if km.SubscriptionValidation && km.Claims.Application == "" {
			add(ptr+"/subscription_validation", "key manager %q validates subscriptions but names no application member: set claims.application (e.g. client_id)", km.Name)
		}
	}
	names := c.keyManagerNames()
	for name, s := range c.Schemes {
		ptr := "/schemes/" + escapePointer(name)
		if s.Type != SchemeBearer {
			if len(s.KeyManagers) > 0 || s.IntrospectJWTs {
				add(ptr, "key_managers and introspect_jwts only apply to bearer schemes")
			}
			continue
		}
		for k, n := range s.KeyManagers {
			if !names[n] {
				add(fmt.Sprintf("%s/key_managers/%d", ptr, k), "unknown key manager %q", n)
			}
		}
	}
}

// introspectionConfig is the authn configuration of an external key
// manager (secrets resolved and CA files read by the caller).
func (km *KeyManagerConfig) introspectionConfig() authn.IntrospectionConfig {
	return authn.IntrospectionConfig{
		Name:                   km.Name,
		URL:                    km.IntrospectionURL,
		AuthMethod:             km.AuthMethod,
		ClientID:               km.ClientID,
		Timeout:                km.Timeout.D(),
		ServerName:             km.TLSServerName,
		Issuer:                 km.Issuer,
		Audiences:              km.Audiences,
		CacheSize:              km.CacheSize,
		CacheTTL:               optionalCacheTTL(km.CacheTTL),
		NegativeCacheTTL:       optionalCacheTTL(km.NegativeCacheTTL),
		Claims:                 km.Claims,
		SubscriptionValidation: km.SubscriptionValidation,
	}
}

// optionalCacheTTL maps an optional cache TTL setting onto the authn
// convention: unset is 0 (the package default), 0s is -1 (disabled).
func optionalCacheTTL(d *Duration) time.Duration {
	switch {
	case d == nil:
		return 0
	case *d == 0:
		return -1
	}
	return d.D()
}
