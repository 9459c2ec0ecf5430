package authn

import (
	"errors"
	"fmt"
)

// BearerSchemeConfig is what a bearer scheme adds to schemes.<name>: the
// issuers whose JWTs it verifies and the key managers that validate its
// opaque tokens (an API definition may name them instead, with
// x-gatehouse-issuers / x-gatehouse-key-managers).
type BearerSchemeConfig struct {
	Issuers []string `json:"issuers"`
	// KeyManagers validate the scheme's opaque tokens;
	// IntrospectJWTs sends them JWTs no issuer of the scheme knows too.
	KeyManagers    []string `json:"key_managers"`
	IntrospectJWTs bool     `json:"introspect_jwts"`
	// DPoP is required, allowed or off (default): confirmation.go; the
	// proofs are checked by the environment's verifier (SchemeEnv.DPoP).
	DPoP string `json:"dpop"`
}

func (b *BearerSchemeConfig) validate(ptr string, issuerKnown func(string) bool, add func(ptr, format string, args ...any)) {
	if _, err := ParseDPoPMode(b.DPoP); err != nil {
		add(ptr+"/dpop", "%s", err.Error())
	}
	// No issuers here is fine when the API definitions name them
	// (x-gatehouse-issuers); the generation build checks that.
	for k, n := range b.Issuers {
		if !issuerKnown(n) {
			add(fmt.Sprintf("%s/issuers/%d", ptr, k), "unknown issuer %q", n)
		}
	}
}

var errNoIssuers = errors.New("has no issuers and no key managers: list issuers in schemes.<name>.issuers or in x-gatehouse-issuers on the securityScheme, or key managers in schemes.<name>.key_managers")

// bearerScheme serves http bearer, oauth2 and openIdConnect schemes: a
// router over the JWT verifier of exactly the issuers named for the scheme
// (so API A can trust issuers API B does not) and its key managers.
var bearerScheme = SchemeType{
	Serves: func(d SchemeDecl) bool {
		return d.Type == "http" && d.HTTPScheme == "bearer" || d.Type == "oauth2" || d.Type == "openIdConnect"
	},
	Build: buildBearer,
}

func buildBearer(in SchemeBuild) (Authenticator, error) {
	name, sc, names, kmNames := in.Decl.Name, in.Config, in.Issuers, in.KeyManagers
	if len(names) == 0 && len(kmNames) == 0 {
		return nil, fmt.Errorf("%w %q %w", ErrScheme, name, errNoIssuers)
	}
	opts := sc.commonOptions([]Option{WithLogger(in.Env.Logger("authn.jwt"))})
	var jwt *JWT
	if len(names) > 0 {
		var issuers []*Issuer
		for _, n := range names {
			is, err := in.Env.Issuer(n)
			if err != nil {
				return nil, fmt.Errorf("%w %q: %w", ErrScheme, name, err)
			}
			issuers = append(issuers, is)
		}
		var err error
		if jwt, err = NewJWT(name, issuers, opts...); err != nil {
			return nil, err
		}
	}
	kms := make([]KeyManager, 0, len(kmNames))
	for _, n := range kmNames {
		km, err := in.Env.KeyManager(n)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrScheme, name, err)
		}
		kms = append(kms, km)
	}
	bc := BearerConfig{JWT: jwt, KeyManagers: kms, IntrospectJWTs: sc.IntrospectJWTs}
	mode, err := ParseDPoPMode(sc.DPoP)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrScheme, name, err)
	}
	if mode != DPoPOff {
		if bc.Proofs, err = in.Env.DPoP(); err != nil {
			return nil, err
		}
		bc.DPoP = mode
	}
	b, err := NewBearer(name, bc, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrScheme, name, err)
	}
	return b, nil
}
