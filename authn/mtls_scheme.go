package authn

import (
	"fmt"

	"github.com/gatehouse/gatehouse/internal/config"
)

// mtlsScheme serves OpenAPI mutualTLS schemes (and the gateway's synthetic
// scheme of the x-gatehouse-mtls extensions). Client certificates are
// trusted per API, so unlike other schemes an mtls authenticator is built
// per (scheme, API).
var mtlsScheme = SchemeType{
	Serves: func(d SchemeDecl) bool { return d.Type == "mutualTLS" },
	PerAPI: true,
	Build: func(in SchemeBuild) (Authenticator, error) {
		cfg, apiTTL, err := in.Env.ClientCertificates()
		if err != nil {
			return nil, err
		}
		var opts []Option
		if apiTTL != 0 {
			opts = append(opts, WithCacheTTL(apiTTL))
		}
		if in.Config.CacheTTL != 0 {
			opts = append(opts, WithCacheTTL(in.Config.CacheTTL.D()))
		}
		a, err := NewMTLS(in.Decl.Name, cfg, opts...)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrScheme, in.Decl.Name, err)
		}
		return a, nil
	},
}

// MTLSAPIConfig is what one API says about client certificates beyond its
// CA bundles (apis[].client_ca_files in the gateway's config): CRLs and the
// cache, and — embedded — the allow-lists and which certificate field names
// the caller. The trust is built from the CA and CRL files.
type MTLSAPIConfig struct {
	CRLFiles []string        `json:"crl_files"`
	CacheTTL config.Duration `json:"cache_ttl"`
	MTLSConfig
}

// Validate checks the settings at ptr that need no file.
func (m *MTLSAPIConfig) Validate(ptr string, add func(ptr, format string, args ...any)) {
	for k, fp := range m.AllowedFingerprints {
		if _, err := NormalizeFingerprint(fp); err != nil {
			add(fmt.Sprintf("%s/allowed_fingerprints/%d", ptr, k), "%v", err)
		}
	}
}
