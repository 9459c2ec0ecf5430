package authn

import (
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/authn/dpop"
	"github.com/gatehouse/gatehouse/internal/config"
)

// Scheme types: schemes.<name>.type in the gateway's config.
const (
	SchemeBasic  = "basic"
	SchemeBearer = "bearer"
	SchemeAPIKey = "api_key"
	SchemeMTLS   = "mtls"
)

// ErrScheme is wrapped by every problem matching an OpenAPI scheme to config.
var ErrScheme = errors.New("security scheme")

// SchemeConfig configures the authenticator of one OpenAPI securityScheme
// name (schemes.<name> in the gateway's config): the keys every type has,
// and, embedded, the keys of each type, declared beside its authenticator.
type SchemeConfig struct {
	Type     string          `json:"type"`
	Realm    string          `json:"realm"`
	CacheTTL config.Duration `json:"cache_ttl"`
	BasicSchemeConfig
	BearerSchemeConfig
}

// Validate performs the checks of schemes.<name> (at ptr) that need no
// other section; issuerKnown says whether an issuers[] entry has a name.
func (s *SchemeConfig) Validate(ptr string, issuerKnown func(string) bool, add func(ptr, format string, args ...any)) {
	switch s.Type {
	case SchemeBasic:
		s.BasicSchemeConfig.validate(ptr, add)
	case SchemeBearer:
		s.BearerSchemeConfig.validate(ptr, issuerKnown, add)
	}
	if s.Type != SchemeBearer && len(s.Issuers) > 0 {
		add(ptr+"/issuers", "issuers only apply to bearer schemes")
	}
	if s.Type != SchemeBearer && s.DPoP != "" && s.DPoP != string(DPoPOff) {
		add(ptr+"/dpop", "dpop only applies to bearer schemes")
	}
	if s.Type != SchemeBasic && (s.UsersFile != "" || s.UsersMetaFile != "") {
		add(ptr, "users_file only applies to basic schemes")
	}
}

// SchemeDecl is what an OpenAPI securityScheme declares: what decides
// which scheme type may serve it, and where an API key travels.
type SchemeDecl struct {
	Name       string
	Type       string // apiKey, http, oauth2, openIdConnect, mutualTLS
	HTTPScheme string // for type http: "basic" or "bearer" (lowercase)
	In         string // for apiKey: header, query, cookie
	ParamName  string // for apiKey: the header/query/cookie name
}

// SchemeEnv is what the generation being built offers a scheme type: the
// config's files, logger, issuers and key managers (built once per
// generation and shared by the schemes that name them), the api_keys
// section's verifier and the API's client-certificate trust.
type SchemeEnv interface {
	// File resolves a path of the config against its directory.
	File(p string) string
	// Logger is the generation's logger, named.
	Logger(name string) hclog.Logger
	// Issuer returns the issuers[] entry called name.
	Issuer(name string) (*Issuer, error)
	// KeyManager returns the key manager called name.
	KeyManager(name string) (KeyManager, error)
	// DPoP returns the DPoP proof verifier of bearer schemes with dpop
	// allowed or required (one per generation, its replay cache the
	// process's).
	DPoP() (*dpop.Verifier, error)
	// APIKeys is the configuration of an API key authenticator from the
	// api_keys section and the bundle data's static keys; the scheme sets
	// Location.
	APIKeys() APIKeyConfig
	// ClientCertificates is the API's client-certificate settings, its
	// Trust set, and the API's own cache TTL (0: not set).
	ClientCertificates() (MTLSConfig, time.Duration, error)
}

// SchemeBuild is what a scheme type builds one authenticator from.
type SchemeBuild struct {
	Decl   SchemeDecl
	Config SchemeConfig
	// Issuers and KeyManagers are the names the scheme uses: the API
	// definition's x-gatehouse-issuers / x-gatehouse-key-managers when
	// present, else the config's.
	Issuers, KeyManagers []string
	Env                  SchemeEnv
}

// SchemeType is how one schemes.<name>.type is served: which OpenAPI
// security schemes it may serve and how it builds their authenticator.
type SchemeType struct {
	Serves func(SchemeDecl) bool
	Build  func(SchemeBuild) (Authenticator, error)
	// PerAPI: one authenticator per API, not per scheme name (client
	// certificate trust is per API).
	PerAPI bool
}

// schemeTypes is the registry of scheme types: a new scheme is its files
// in authn (its authenticator, config and SchemeType) and one line here.
var schemeTypes = map[string]SchemeType{
	SchemeBasic:  basicScheme,
	SchemeBearer: bearerScheme,
	SchemeAPIKey: apiKeyScheme,
	SchemeMTLS:   mtlsScheme,
}

// LookupScheme returns the scheme type registered as typ.
func LookupScheme(typ string) (SchemeType, bool) {
	st, ok := schemeTypes[typ]
	return st, ok
}

// commonOptions are the options every scheme's config may set: the
// challenge realm and the verified-credential cache's TTL.
func (s *SchemeConfig) commonOptions(opts []Option) []Option {
	if s.Realm != "" {
		opts = append(opts, WithRealm(s.Realm))
	}
	if s.CacheTTL != 0 {
		opts = append(opts, WithCacheTTL(s.CacheTTL.D()))
	}
	return opts
}
