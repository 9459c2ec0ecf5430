package gateway

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/dpop"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// authnFactory builds the authenticators of one generation from the config's
// schemes section. One authenticator serves a scheme name across every API
// that declares it the same way, so its verified-credential cache is shared.
type authnFactory struct {
	cfg     *config.Config
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
	// (built on first use, dpop.go) with the replay caches of
	// dpopReplays (the Server's, so a reload keeps used proofs).
	dpop        *dpop.Verifier
	dpopReplays *dpopReplays
}

func newAuthnFactory(cfg *config.Config, log hclog.Logger) *authnFactory {
	return &authnFactory{cfg: cfg, log: log, built: map[string]authn.Authenticator{}, issuers: map[string]*authn.Issuer{}, trusts: map[string]*authn.Trust{}}
}

// ErrScheme is wrapped by every problem matching an OpenAPI scheme to config.
var ErrScheme = authn.ErrScheme

func (f *authnFactory) get(api *API, def *SchemeDef) (authn.Authenticator, error) {
	sc, ok := f.cfg.Schemes[def.Name]
	if def.Synthetic { // the mTLS extensions' scheme needs no config entry
		sc, ok = config.SchemeConfig{Type: config.SchemeMTLS}, true
	}
	if !ok {
		return nil, fmt.Errorf("%w %q (%s) is used by the API but schemes.%s is not configured", ErrScheme, def.Name, describe(def), def.Name)
	}
	decl := authn.SchemeDecl{Name: def.Name, Type: def.Type, HTTPScheme: def.HTTPScheme, In: def.In, ParamName: def.ParamName}
	st, known := authn.LookupScheme(sc.Type)
	if !known || !st.Serves(decl) {
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
	if st.PerAPI {
		key += mtlsKey(api) // client CA trust is per API
	}
	if a, ok := f.built[key]; ok {
		return a, nil
	}
	a, err := st.Build(authn.SchemeBuild{Decl: decl, Config: sc, Issuers: issuers, KeyManagers: kms, Env: schemeEnv{f: f, api: api}})
	if err != nil {
		return nil, err
	}
	if c, ok := a.(io.Closer); ok {
		f.closers = append(f.closers, c)
	}
	f.built[key] = a
	return a, nil
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

var _ authn.SchemeEnv = schemeEnv{}

// schemeEnv is what the factory offers a scheme type building an
// authenticator of api (authn.SchemeEnv).
type schemeEnv struct {
	f   *authnFactory
	api *API
}

func (e schemeEnv) File(p string) string                             { return e.f.cfg.File(p) }
func (e schemeEnv) Logger(name string) hclog.Logger                  { return e.f.log.Named(name) }
func (e schemeEnv) Issuer(name string) (*authn.Issuer, error)        { return e.f.issuer(name) }
func (e schemeEnv) KeyManager(name string) (authn.KeyManager, error) { return e.f.keyManager(name) }
func (e schemeEnv) DPoP() (*dpop.Verifier, error)                    { return e.f.dpopVerifier() }
func (e schemeEnv) APIKeys() authn.APIKeyConfig                      { return e.f.apiKeys.authnConfig() }
func (e schemeEnv) ClientCertificates() (authn.MTLSConfig, time.Duration, error) {
	return e.f.clientCertificates(e.api)
}
