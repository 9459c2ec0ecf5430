package apikeys

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/internal/config"
)

// Built is what one api_keys section builds for a generation: the token
// service, and its issuing endpoint with the dedicated listener's TLS
// configuration when the section has them.
type Built struct {
	Service *Service
	// Endpoint is nil without endpoint; its Service is set once the
	// generation knows its APIs (Service.WithKnownAPIs).
	Endpoint *Endpoint
	// ServerTLS is the endpoint's dedicated listener (nil without
	// endpoint.tls), verifying client certificates when given with
	// client_ca_files.
	ServerTLS *tls.Config
}

// Build loads the section's keys and the endpoint's users and CAs (paths
// relative to dir) and builds the service. An error about one key of the
// section is a config.KeyError with its pointer relative to the section.
func (k *SectionConfig) Build(dir string, log hclog.Logger) (*Built, error) {
	sc := Config{
		Name:            k.Name,
		Issuer:          k.Issuer,
		Algorithm:       k.Algorithm,
		DefaultValidity: k.DefaultValidity.D(),
		MaxValidity:     k.MaxValidity.D(),
		AllowNoExpiry:   k.AllowNoExpiry,
	}
	file := func(p string) string { return config.ResolvePath(dir, p) }
	var err error
	if k.SigningKeyFile != "" {
		if sc.Signer, err = LoadSigningKey(file(k.SigningKeyFile)); err != nil {
			return nil, config.AtKey("/signing_key_file", err)
		}
	}
	if k.CertificateFile != "" {
		if sc.Certificate, err = LoadCertificate(file(k.CertificateFile)); err != nil {
			return nil, config.AtKey("/certificate_file", err)
		}
	}
	sc.Verification, err = LoadVerificationKeys(config.ResolvePaths(dir, k.VerificationJWKSFiles), config.ResolvePaths(dir, k.VerificationCertificateFiles), log)
	if err != nil {
		return nil, err
	}
	b := &Built{}
	if b.Service, err = New(sc); err != nil {
		return nil, err
	}
	if e := k.Endpoint; e != nil {
		if err := b.buildEndpoint(dir, e, log); err != nil {
			return nil, config.AtKey("/endpoint", err)
		}
	}
	return b, nil
}

func (b *Built) buildEndpoint(dir string, e *EndpointConfig, log hclog.Logger) error {
	ep := &Endpoint{
		Group:              e.PermissionGroup,
		ClientCerts:        len(e.ClientCAFiles) > 0,
		AllowedCommonNames: e.AllowedCommonNames,
		Logger:             log,
	}
	if e.BasicUsersFile != "" {
		users, err := authn.LoadUsers("apikey-issuers", config.ResolvePath(dir, e.BasicUsersFile), config.ResolvePath(dir, e.BasicUsersMetaFile))
		if err != nil {
			return err
		}
		if ep.Basic, err = authn.NewBasic("apikeys", users, authn.WithRealm("gatehouse-apikeys")); err != nil {
			return err
		}
	}
	var clientCAs *x509.CertPool
	if len(e.ClientCAFiles) > 0 {
		var err error
		if clientCAs, err = config.LoadCAPool(dir, e.ClientCAFiles); err != nil {
			return fmt.Errorf("client_ca_files: %w", err)
		}
	}
	if e.TLS != nil {
		var err error
		if b.ServerTLS, err = config.LoadServerTLS(dir, e.TLS); err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		if clientCAs != nil {
			b.ServerTLS.ClientCAs = clientCAs
			b.ServerTLS.ClientAuth = tls.VerifyClientCertIfGiven
		}
	}
	b.Endpoint = ep
	return nil
}

// AuthnConfig is the configuration of a generation's API key
// authenticators (authn.SchemeEnv): the keys s verifies, with the
// section's leeway and subscription validation, when the section is
// configured, and the static keys of the bundle data.
func (k *SectionConfig) AuthnConfig(s *Service, static func() *authn.StaticAPIKeys) authn.APIKeyConfig {
	cfg := authn.APIKeyConfig{Static: static}
	if k != nil && s != nil {
		v := s.Verifier()
		if l := k.Leeway; l != nil {
			d := l.D()
			v.Leeway = &d
		}
		cfg.Issuer = v
		cfg.SubscriptionValidation = k.SubscriptionValidation
	}
	return cfg
}
