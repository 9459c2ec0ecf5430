package config

import (
	"fmt"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/apikeys"
)

// The api_keys section is authn/apikeys/section.go; these keep the
// gateway's names.
type (
	// APIKeysConfig is the api_keys section.
	APIKeysConfig = apikeys.SectionConfig
)

// Defaults of the api_keys section.
const (
	DefaultAPIKeysName = apikeys.DefaultSectionName
	APIKeyListenAdmin  = apikeys.ListenAdmin
	// APIKeyPath is where the issuing endpoint answers.
	APIKeyPath = apikeys.Path
	// APIKeyJWKSPath is where the verification keys are published.
	APIKeyJWKSPath = apikeys.JWKSPath
)

func (c *Config) applyAPIKeyDefaults() {
	if c.APIKeys != nil {
		c.APIKeys.ApplyDefaults()
	}
}

// checkAPIKeys performs the semantic checks of the api_keys section, and
// keeps identity sources one namespace: bundle data keys applications and
// subscriptions by source (docs/migrating-bundle-data.md), so an API key
// service named like an issuer, or anything named static_api_keys (the
// source of static keys), would let one trust domain's application ids
// stand for another's. Issuers and key managers are checked against each
// other in checkKeyManagers and checkInternalKM.
func (c *Config) checkAPIKeys(add func(ptr, format string, args ...any)) {
	for i, is := range c.Issuers {
		if is.Name == authn.StaticAPIKeySource {
			add(fmt.Sprintf("/issuers/%d/name", i), "%q is the identity source of static API keys: identity sources must be unique", is.Name)
		}
	}
	for i, km := range c.KeyManagers {
		if km.Name == authn.StaticAPIKeySource {
			add(fmt.Sprintf("/key_managers/%d/name", i), "%q is the identity source of static API keys: identity sources must be unique", km.Name)
		}
	}
	if ik := c.InternalKeyManager; ik != nil && ik.Name == authn.StaticAPIKeySource {
		add("/internal_key_manager/name", "%q is the identity source of static API keys: identity sources must be unique", ik.Name)
	}
	if c.APIKeys == nil {
		return
	}
	c.APIKeys.Validate("/api_keys", c.Admin.Address != nil && *c.Admin.Address == "", add)
	name := c.APIKeys.Name
	if name == "" {
		name = DefaultAPIKeysName
	}
	switch other := c.SourceNamed(name); {
	case name == authn.StaticAPIKeySource:
		add("/api_keys/name", "%q is the identity source of static API keys: identity sources must be unique", name)
	case other != "":
		add("/api_keys/name", "api_keys name %q is also the name of %s: identity sources must be unique", name, other)
	}
}

// SourceNamed returns the issuer or key manager (external or internal)
// named name, as a JSON pointer, or "": identity sources are one namespace
// (the API whose client certificates carry applications is checked
// against it when its authenticator is built).
func (c *Config) SourceNamed(name string) string {
	for i, is := range c.Issuers {
		if is.Name == name {
			return fmt.Sprintf("/issuers/%d", i)
		}
	}
	for i, km := range c.KeyManagers {
		if km.Name == name {
			return fmt.Sprintf("/key_managers/%d", i)
		}
	}
	if ik := c.InternalKeyManager; ik != nil && ik.Name == name {
		return "/internal_key_manager"
	}
	return ""
}
