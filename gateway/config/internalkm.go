package config

import (
	"strconv"

	"github.com/gatehouse/gatehouse/authn/keymanager"
	shared "github.com/gatehouse/gatehouse/internal/config"
)

// InternalKeyManagerConfig is the internal_key_manager section
// (authn/keymanager/section.go).
type InternalKeyManagerConfig = keymanager.SectionConfig

// Defaults and limits of internal_key_manager.
const (
	InternalKMListenAdmin = keymanager.ListenAdmin
)

func (c *Config) applyInternalKMDefaults() {
	if c.InternalKeyManager != nil {
		c.InternalKeyManager.ApplyDefaults()
	}
}

// checkInternalKM performs the semantic checks of internal_key_manager:
// the section's own (keymanager.SectionConfig.Validate) and those that
// involve other sections.
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
	k.Validate(p, c.Admin.Address != nil && *c.Admin.Address == "", add)
	jwt := k.TokenFormat == keymanager.FormatJWT
	for name, sc := range c.Schemes {
		for i, n := range sc.KeyManagers {
			if n == k.Name && jwt && !sc.IntrospectJWTs {
				add("/schemes/"+escapePointer(name)+"/key_managers/"+strconv.Itoa(i), "key manager %q issues JWTs: set introspect_jwts: true on this scheme so they reach it", n)
			}
		}
	}
}

func loopbackAddress(addr string) bool { return shared.LoopbackAddress(addr) }
