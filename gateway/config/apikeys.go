package config

import "github.com/gatehouse/gatehouse/authn/apikeys"

// The api_keys section is authn/apikeys/section.go; these keep the
// gateway's names.
type (
	// APIKeysConfig is the api_keys section.
	APIKeysConfig = apikeys.SectionConfig
	// APIKeyEndpointConfig is api_keys.endpoint.
	APIKeyEndpointConfig = apikeys.EndpointConfig
)

// Defaults of the api_keys section.
const (
	DefaultAPIKeysName       = apikeys.DefaultSectionName
	DefaultAPIKeyValidity    = apikeys.DefaultValidity
	DefaultAPIKeyMaxValidity = apikeys.DefaultMaxValidity
	DefaultAPIKeyGroup       = apikeys.DefaultGroup
	APIKeyListenAdmin        = apikeys.ListenAdmin
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

// checkAPIKeys performs the semantic checks of the api_keys section.
func (c *Config) checkAPIKeys(add func(ptr, format string, args ...any)) {
	if c.APIKeys != nil {
		c.APIKeys.Validate("/api_keys", c.Admin.Address != nil && *c.Admin.Address == "", add)
	}
}
