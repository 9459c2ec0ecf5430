package gateway

import (
	"fmt"

	"github.com/gatehouse/gatehouse/authn"
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

// mtls builds the authenticator of a mutualTLS scheme of api (sc is empty
// for the synthetic scheme of the extensions).
func (f *authnFactory) mtls(api *API, def *SchemeDef, sc SchemeConfig) (authn.Authenticator, error) {
	trust, err := f.trust(api)
	if err != nil {
		return nil, err
	}
	var cfg authn.MTLSConfig
	var opts []authn.Option
	if m := api.Config.MTLS; m != nil {
		cfg = m.MTLSConfig
		if m.CacheTTL != 0 {
			opts = append(opts, authn.WithCacheTTL(m.CacheTTL.D()))
		}
	}
	if sc.CacheTTL != 0 {
		opts = append(opts, authn.WithCacheTTL(sc.CacheTTL.D()))
	}
	cfg.Trust = trust
	a, err := authn.NewMTLS(def.Name, cfg, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrScheme, def.Name, err)
	}
	return a, nil
}

// trust returns the client-certificate trust of api, built once per
// generation: client_ca_files from the config, else x-gatehouse-client-ca.
func (f *authnFactory) trust(api *API) (*authn.Trust, error) {
	key := mtlsKey(api)
	if t, ok := f.trusts[key]; ok {
		return t, nil
	}
	cas := resolveAll(f.cfg, api.Config.ClientCAFiles)
	if len(cas) == 0 {
		cas = api.DocClientCAFiles
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("%w: API %s uses mutual TLS but names no client CA: set client_ca_files (or x-gatehouse-client-ca in the document)", ErrScheme, api.Name)
	}
	var crls []string
	if m := api.Config.MTLS; m != nil {
		crls = resolveAll(f.cfg, m.CRLFiles)
	}
	t, err := authn.NewTrust(api.Name, cas, crls)
	if err != nil {
		return nil, fmt.Errorf("%w: API %s: %w", ErrScheme, api.Name, err)
	}
	f.trusts[key] = t
	return t, nil
}
