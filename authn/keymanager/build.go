package keymanager

import (
	"crypto/tls"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/authn/apikeys"
	"github.com/gatehouse/gatehouse/internal/config"
)

// Build builds the key manager of the section over store (the token store
// the gateway holds across generations), with its signing key (relative to
// dir), and its dedicated listener's TLS configuration (nil without tls).
// An error about one key of the section is a config.KeyError with its
// pointer relative to the section.
func (k *SectionConfig) Build(dir string, store Store, log hclog.Logger) (*KeyManager, *tls.Config, error) {
	kc := Config{
		Name:                   k.Name,
		Issuer:                 k.Issuer,
		Format:                 k.TokenFormat,
		Lifetime:               k.TokenLifetime.D(),
		Algorithm:              k.Algorithm,
		Store:                  store,
		SubscriptionValidation: *k.SubscriptionValidation,
		CacheTTL:               config.OptionalTTL(k.CacheTTL),
		Logger:                 log,
	}
	var err error
	if k.SigningKeyFile != "" {
		if kc.Signer, err = apikeys.LoadSigningKey(config.ResolvePath(dir, k.SigningKeyFile)); err != nil {
			return nil, nil, config.AtKey("/signing_key_file", err)
		}
	}
	km, err := New(kc)
	if err != nil {
		return nil, nil, err
	}
	var serverTLS *tls.Config
	if k.TLS != nil {
		if serverTLS, err = config.LoadServerTLS(dir, k.TLS); err != nil {
			return nil, nil, config.AtKey("/tls", err)
		}
	}
	return km, serverTLS, nil
}
