package gateway

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/dpop"
)

// authnFactory builds the authenticators of one generation from the config's
// schemes section. One authenticator serves a scheme name across every API
// that declares it the same way, so its verified-credential cache is shared.
type authnFactory struct {
	cfg     *Config
	log     hclog.Logger
	built   map[string]authn.Authenticator
	issuers map[string]*authn.Issuer
	apiKeys *apiKeyState
	// trusts are the per-API client-certificate trusts (by mtlsKey).
	trusts map[string]*authn.Trust
	// closers stop background work of authenticators (key refresh) when the
	// generation is retired.
	closers []io.Closer
	// sources shares remote key sources across generations; jwks lists the
	// ones this generation uses, created those whose first fetch it awaits.
	sources       *authn.KeySources
	jwks, created []*authn.RemoteJWKS
	// keyManagers are the generation's key managers by name, built on
	// first use and shared by the schemes that list them.
	keyManagers map[string]authn.KeyManager
	// dpop verifies the DPoP proofs of the generation's bearer schemes
	// (built on first use, config_dpop.go) with the replay caches of
	// dpopReplays (the Server's, so a reload keeps used proofs).
	dpop        *dpop.Verifier
	dpopReplays *dpopReplays
}

func newAuthnFactory(cfg *Config, log hclog.Logger) *authnFactory {
	return &authnFactory{cfg: cfg, log: log, built: map[string]authn.Authenticator{}, issuers: map[string]*authn.Issuer{}, trusts: map[string]*authn.Trust{}}
}

// ErrScheme is wrapped by every problem matching an OpenAPI scheme to config.
var ErrScheme = errors.New("security scheme")

// schemeType is how the gateway serves one scheme type of the config
// (schemes.<name>.type): which OpenAPI security schemes it may serve, and
// how it builds their authenticator.
type schemeType struct {
	serves func(def *SchemeDef) bool
	build  func(f *authnFactory, in schemeInput) (authn.Authenticator, error)
	// perAPI: one authenticator per API, not per scheme name (client
	// certificate trust is per API).
	perAPI bool
}

// schemeInput is what a schemeType builds from.
type schemeInput struct {
	api          *API
	def          *SchemeDef
	sc           SchemeConfig
	issuers, kms []string
}

// schemeTypes registers the scheme types: a new scheme is its authn files
// and one line here.
var schemeTypes = map[string]schemeType{
	SchemeBasic: {serves: httpScheme("basic"), build: func(f *authnFactory, in schemeInput) (authn.Authenticator, error) {
		return f.basic(in.def.Name, in.sc)
	}},
	SchemeBearer: {serves: bearerScheme, build: func(f *authnFactory, in schemeInput) (authn.Authenticator, error) {
		return f.bearer(in.def.Name, in.sc, in.issuers, in.kms)
	}},
	SchemeAPIKey: {serves: openAPIType("apiKey"), build: func(f *authnFactory, in schemeInput) (authn.Authenticator, error) {
		return f.apiKey(in.def, in.sc)
	}},
	SchemeMTLS: {serves: openAPIType("mutualTLS"), perAPI: true, build: func(f *authnFactory, in schemeInput) (authn.Authenticator, error) {
		return f.mtls(in.api, in.def, in.sc)
	}},
}

// httpScheme serves OpenAPI http schemes of one auth-scheme (basic).
func httpScheme(name string) func(*SchemeDef) bool {
	return func(def *SchemeDef) bool { return def.Type == "http" && def.HTTPScheme == name }
}

// openAPIType serves OpenAPI schemes of one type (apiKey, mutualTLS).
func openAPIType(typ string) func(*SchemeDef) bool {
	return func(def *SchemeDef) bool { return def.Type == typ }
}

// bearerScheme serves http bearer, oauth2 and openIdConnect schemes.
func bearerScheme(def *SchemeDef) bool {
	return def.Type == "http" && def.HTTPScheme == "bearer" || def.Type == "oauth2" || def.Type == "openIdConnect"
}

func (f *authnFactory) get(api *API, def *SchemeDef) (authn.Authenticator, error) {
	sc, ok := f.cfg.Schemes[def.Name]
	if def.Synthetic { // the mTLS extensions' scheme needs no config entry
		sc, ok = SchemeConfig{Type: SchemeMTLS}, true
	}
	if !ok {
		return nil, fmt.Errorf("%w %q (%s) is used by the API but schemes.%s is not configured", ErrScheme, def.Name, describe(def), def.Name)
	}
	st, known := schemeTypes[sc.Type]
	if !known || !st.serves(def) {
		return nil, fmt.Errorf("%w %q is %s in the API definition but configured as type %s", ErrScheme, def.Name, describe(def), sc.Type)
	}
	key := def.Name + "|" + def.Type + "|" + def.HTTPScheme + "|" + def.In + "|" + def.ParamName
	issuers, err := schemeIssuers(def, sc)
	if err != nil {
		return nil, err
	}
	key += "|" + strings.Join(issuers, ",")
	kms, err := schemeKeyManagers(def, sc)
	if err != nil {
		return nil, err
	}
	key += "|" + strings.Join(kms, ",")
	if st.perAPI {
		key += mtlsKey(api) // client CA trust is per API
	}
	if a, ok := f.built[key]; ok {
		return a, nil
	}
	a, err := st.build(f, schemeInput{api: api, def: def, sc: sc, issuers: issuers, kms: kms})
	if err != nil {
		return nil, err
	}
	if c, ok := a.(io.Closer); ok {
		f.closers = append(f.closers, c)
	}
	f.built[key] = a
	return a, nil
}

func (f *authnFactory) basic(name string, sc SchemeConfig) (authn.Authenticator, error) {
	users, err := authn.LoadUsers(name, f.cfg.File(sc.UsersFile), f.cfg.File(sc.UsersMetaFile))
	if err != nil {
		return nil, atKey("/schemes/"+escapePointer(name), fmt.Errorf("%w %q: %w", ErrScheme, name, err))
	}
	opts := []authn.Option{authn.WithLogger(f.log.Named("authn.basic"))}
	if sc.Realm != "" {
		opts = append(opts, authn.WithRealm(sc.Realm))
	}
	if sc.CacheTTL != 0 {
		opts = append(opts, authn.WithCacheTTL(sc.CacheTTL.D()))
	}
	return authn.NewBasic(name, users, opts...)
}

// Close stops what the generation's authenticators run in the background.
func (f *authnFactory) Close() error {
	var errs []error
	for _, c := range f.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

func describe(def *SchemeDef) string {
	switch def.Type {
	case "http":
		return "http " + def.HTTPScheme
	case "apiKey":
		return "apiKey in " + def.In
	}
	return def.Type
}
