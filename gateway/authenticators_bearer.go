package gateway

import (
	"fmt"

	"github.com/gatehouse/gatehouse/authn"
)

// extIssuers names, on an OpenAPI securityScheme, the configured issuers
// trusted for it in this API (instead of schemes.<name>.issuers).
const extIssuers = "x-gatehouse-issuers"

// schemeIssuers returns the issuer names of a bearer scheme: the API
// definition's x-gatehouse-issuers when present, else the config's.
func schemeIssuers(def *SchemeDef, sc SchemeConfig) ([]string, error) {
	return schemeNames(def, sc, extIssuers, sc.Issuers, "issuer")
}

// schemeNames returns the names a bearer scheme lists under the OpenAPI
// extension ext when the API definition has it, else configured (the
// config's list); what names the kind of name in errors.
func schemeNames(def *SchemeDef, sc SchemeConfig, ext string, configured []string, what string) ([]string, error) {
	raw, ok := def.Extensions[ext]
	if !ok {
		return configured, nil
	}
	if sc.Type != SchemeBearer {
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

// bearer builds the authenticator of a bearer scheme: a router over the
// JWT verifier of exactly the issuers named for it (so API A can trust
// issuers API B does not) and the key managers named for it.
func (f *authnFactory) bearer(name string, sc SchemeConfig, names, kmNames []string) (authn.Authenticator, error) {
	if len(names) == 0 && len(kmNames) == 0 {
		return nil, fmt.Errorf("%w %q %w", ErrScheme, name, errNoIssuers)
	}
	opts := []authn.Option{authn.WithLogger(f.log.Named("authn.jwt"))}
	if sc.Realm != "" {
		opts = append(opts, authn.WithRealm(sc.Realm))
	}
	if sc.CacheTTL != 0 {
		opts = append(opts, authn.WithCacheTTL(sc.CacheTTL.D()))
	}
	var jwt *authn.JWT
	if len(names) > 0 {
		var issuers []*authn.Issuer
		for _, n := range names {
			is, err := f.issuer(n)
			if err != nil {
				return nil, fmt.Errorf("%w %q: %w", ErrScheme, name, err)
			}
			issuers = append(issuers, is)
		}
		var err error
		if jwt, err = authn.NewJWT(name, issuers, opts...); err != nil {
			return nil, err
		}
	}
	kms := make([]authn.KeyManager, 0, len(kmNames))
	for _, n := range kmNames {
		km, err := f.keyManager(n)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrScheme, name, err)
		}
		kms = append(kms, km)
	}
	bc := authn.BearerConfig{JWT: jwt, KeyManagers: kms, IntrospectJWTs: sc.IntrospectJWTs}
	mode, err := authn.ParseDPoPMode(sc.DPoP)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrScheme, name, err)
	}
	if mode != authn.DPoPOff {
		if bc.Proofs, err = f.dpopVerifier(); err != nil {
			return nil, atKey("/dpop", err)
		}
		bc.DPoP = mode
	}
	b, err := authn.NewBearer(name, bc, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrScheme, name, err)
	}
	return b, nil
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
