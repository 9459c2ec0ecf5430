package gateway

import (
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/authn"
)

// bearer builds the JWT authenticator of a bearer scheme, trusting exactly
// the issuers the scheme names (so API A can trust issuers API B does not).
func (f *authnFactory) bearer(name string, sc SchemeConfig) (authn.Authenticator, error) {
	var issuers []*authn.Issuer
	for _, n := range sc.Issuers {
		is, err := f.issuer(n)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrScheme, name, err)
		}
		issuers = append(issuers, is)
	}
	opts := []authn.Option{authn.WithLogger(f.log.Named("authn.jwt"))}
	if sc.Realm != "" {
		opts = append(opts, authn.WithRealm(sc.Realm))
	}
	if sc.CacheTTL != 0 {
		opts = append(opts, authn.WithCacheTTL(sc.CacheTTL.D()))
	}
	return authn.NewJWT(name, issuers, opts...)
}

// issuer turns an issuers[] entry into authn.Issuer, once per generation.
func (f *authnFactory) issuer(name string) (*authn.Issuer, error) {
	if is, ok := f.issuers[name]; ok {
		return is, nil
	}
	var ic *IssuerConfig
	for i := range f.cfg.Issuers {
		if f.cfg.Issuers[i].Name == name {
			ic = &f.cfg.Issuers[i]
		}
	}
	if ic == nil {
		return nil, fmt.Errorf("unknown issuer %q", name)
	}
	is := &authn.Issuer{
		Name:             ic.Name,
		Issuer:           ic.Issuer,
		Audiences:        ic.Audiences,
		AllowAnyAudience: ic.AllowAnyAudience,
		Algorithms:       ic.Algorithms,
		MaxLifetime:      ic.MaxLifetime.D(),
		RequiredClaims:   ic.RequiredClaims,
		Types:            ic.Typ,
		CacheTTL:         ic.CacheTTL.D(),
		Claims: authn.ClaimMapping{
			Scope:       ic.Claims.Scope,
			ClientID:    ic.Claims.ClientID,
			Subject:     ic.Claims.Subject,
			Application: ic.Claims.Application,
		},
	}
	if ic.Leeway != nil {
		l := time.Duration(*ic.Leeway)
		is.Leeway = &l
	}
	log := f.log.Named("authn.jwt").With("issuer", ic.Name)
	var err error
	switch {
	case ic.JWKSFile != "":
		is.Keys, err = authn.LoadJWKSFile(f.cfg.File(ic.JWKSFile), log)
	case len(ic.CertificateFiles) > 0:
		is.Keys, err = authn.LoadPEMFiles(resolveAll(f.cfg, ic.CertificateFiles)...)
	case ic.HMACSecret != "":
		is.Secret, err = ic.HMACSecret.Resolve(f.cfg.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("issuer %q: %w", name, err)
	}
	if err := is.Validate(); err != nil {
		return nil, fmt.Errorf("issuer %q: %w", name, err)
	}
	f.issuers[name] = is
	return is, nil
}
