package gateway

import (
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/gateway/config"
	shared "github.com/gatehouse/gatehouse/internal/config"
)

// Client certificates are trusted per API, so unlike other schemes an mtls
// authenticator is built per (scheme, API): the same scheme name in two
// APIs with different client CAs gives two authenticators. Both schemes of
// one API (a 3.1 mutualTLS scheme and the x-gatehouse-mtls extension) share
// the API's Trust.

// mtlsKey is the part of the authenticator key that makes mtls per API. The
// base path is in it because it is what is unique per generation: two
// documents may share a title and version.
func mtlsKey(api *API) string { return "|api=" + api.Name + "@" + api.Version + "|" + api.BasePath }

// clientCertificates is the client-certificate settings of api with its
// trust, and the API's own cache TTL (authn.SchemeEnv).
func (f *authnFactory) clientCertificates(api *API) (authn.MTLSConfig, time.Duration, error) {
	var cfg authn.MTLSConfig
	trust, err := f.trust(api)
	if err != nil {
		return cfg, 0, err
	}
	var ttl time.Duration
	if m := api.Config.MTLS; m != nil {
		cfg = m.MTLSConfig
		ttl = m.CacheTTL.D()
	}
	// A certificate's identity has the API's name as its source, and
	// bundle data keys applications by source: an API named like an issuer
	// or key manager would mix the two trust domains' application ids
	// (docs/migrating-bundle-data.md).
	if cfg.ApplicationFrom != "" {
		other := f.cfg.SourceNamed(api.Name)
		if k := f.cfg.APIKeys; k != nil && (k.Name == api.Name || k.Name == "" && api.Name == config.DefaultAPIKeysName) {
			other = "/api_keys"
		}
		if api.Name == authn.StaticAPIKeySource {
			other = "the static API keys"
		}
		if other != "" {
			return cfg, 0, fmt.Errorf("%w: API %s: its client certificates' applications have the API's name as their source, which is also the name of %s: identity sources must be unique", ErrScheme, api.Name, other)
		}
	}
	cfg.Trust = trust
	return cfg, ttl, nil
}

// trust returns the client-certificate trust of api, built once per
// generation: client_ca_files from the config, else x-gatehouse-client-ca.
func (f *authnFactory) trust(api *API) (*authn.Trust, error) {
	key := mtlsKey(api)
	if t, ok := f.trusts[key]; ok {
		return t, nil
	}
	cas := shared.ResolvePaths(f.cfg.Dir, api.Config.ClientCAFiles)
	if len(cas) == 0 {
		cas = api.DocClientCAFiles
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("%w: API %s uses mutual TLS but names no client CA: set client_ca_files (or x-gatehouse-client-ca in the document)", ErrScheme, api.Name)
	}
	var crls []string
	if m := api.Config.MTLS; m != nil {
		crls = shared.ResolvePaths(f.cfg.Dir, m.CRLFiles)
	}
	t, err := authn.NewTrust(api.Name, cas, crls)
	if err != nil {
		return nil, fmt.Errorf("%w: API %s: %w", ErrScheme, api.Name, err)
	}
	f.trusts[key] = t
	return t, nil
}
