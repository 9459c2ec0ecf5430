package gateway

import (
	"net/netip"

	"github.com/gatehouse/gatehouse/gateway/config"
	shared "github.com/gatehouse/gatehouse/internal/config"
)

// The config file is gateway/config's; these keep gateway's names for it
// in the files that do not name gateway/config yet.
type (
	// Config is the one configuration file (gateway/config/config.go).
	Config = config.Config
	// ConfigError is a configuration problem at a JSON pointer in the file.
	ConfigError = config.Error
	// ConfigErrors collects every problem found.
	ConfigErrors = config.Errors
)

// LoadConfig reads a config file (gateway/config.Load).
func LoadConfig(path string) (*Config, error) { return config.Load(path) }

// identityKeyPointer is gateway/config.IdentityKeyPointer.
func identityKeyPointer(ui config.IdentityConfig) string { return config.IdentityKeyPointer(ui) }

// parsePrefix reads a CIDR or a single address.
func parsePrefix(s string) (netip.Prefix, error) { return shared.ParsePrefix(s) }
