package gateway

import (
	"fmt"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// extIssuers names, on an OpenAPI securityScheme, the configured issuers
// trusted for it in this API (instead of schemes.<name>.issuers).
const extIssuers = "x-gatehouse-issuers"

// schemeIssuers returns the issuer names of a bearer scheme: the API
// definition's x-gatehouse-issuers when present, else the config's.
func schemeIssuers(def *SchemeDef, sc config.SchemeConfig) ([]string, error) {
	return schemeNames(def, sc, extIssuers, sc.Issuers, "issuer")
}

// schemeNames returns the names a bearer scheme lists under the OpenAPI
// extension ext when the API definition has it, else configured (the
// config's list); what names the kind of name in errors.
func schemeNames(def *SchemeDef, sc config.SchemeConfig, ext string, configured []string, what string) ([]string, error) {
	raw, ok := def.Extensions[ext]
	if !ok {
		return configured, nil
	}
	if sc.Type != config.SchemeBearer {
		return nil, fmt.Errorf("%w %q: %s only applies to bearer schemes", ErrScheme, def.Name, ext)
	}
	list, ok := raw.([]any)
	var names []string
	for _, v := range list {
		n, isStr := v.(string)
		if !isStr || n == "" {
			ok = false
			break
		}
		names = append(names, n)
	}
	if !ok || len(names) == 0 {
		return nil, fmt.Errorf("%w %q: %s must be a non-empty list of %s names", ErrScheme, def.Name, ext, what)
	}
	return names, nil
}

// issuer builds an issuers[] entry's authn.Issuer, once per generation.
func (f *authnFactory) issuer(name string) (*authn.Issuer, error) {
	if is, ok := f.issuers[name]; ok {
		return is, nil
	}
	var ic *authn.IssuerConfig
	ptr := ""
	for i := range f.cfg.Issuers {
		if f.cfg.Issuers[i].Name == name {
			ic, ptr = &f.cfg.Issuers[i], fmt.Sprintf("/issuers/%d", i)
		}
	}
	if ic == nil {
		return nil, fmt.Errorf("unknown issuer %q", name)
	}
	is, err := ic.NewIssuer(authn.IssuerFiles{
		Pointer: ptr,
		File:    f.cfg.File,
		Dir:     f.cfg.Dir,
		Remote:  f.remoteKeys,
		Logger:  f.log.Named("authn.jwt").With("issuer", ic.Name),
	})
	if err != nil {
		return nil, err
	}
	f.issuers[name] = is
	return is, nil
}

// remoteKeys returns the shared remote key source of an issuer, counted as
// used by this generation.
func (f *authnFactory) remoteKeys(ic *authn.IssuerConfig) (authn.KeySource, error) {
	if f.sources == nil {
		f.sources = authn.NewKeySources(f.log)
	}
	src, release, created, err := f.sources.Acquire(f.cfg.Dir, ic)
	if err != nil {
		return nil, err
	}
	f.closers = append(f.closers, release)
	f.jwks = append(f.jwks, src)
	if created {
		f.created = append(f.created, src)
	}
	return src, nil
}
