package authn

import (
	"errors"

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
	if s.Type != SchemeBasic && (s.UsersFile != "" || s.UsersMetaFile != "") {
		add(ptr, "users_file only applies to basic schemes")
	}
}
