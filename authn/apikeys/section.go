package apikeys

import (
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

// SectionConfig is the api_keys section of the gateway's config: the key
// that signs API keys, the keys that verify them, validity limits, and the
// issuing endpoint. A replica that only validates keys sets issuer and
// verification_* only (no private key).
type SectionConfig struct {
	// Name is the identity source of API keys (Identity.Source); default
	// "api_keys".
	Name                         string           `json:"name"`
	Issuer                       string           `json:"issuer"`
	SigningKeyFile               string           `json:"signing_key_file"`
	CertificateFile              string           `json:"certificate_file"`
	VerificationJWKSFiles        []string         `json:"verification_jwks_files"`
	VerificationCertificateFiles []string         `json:"verification_certificate_files"`
	Algorithm                    string           `json:"algorithm"`
	DefaultValidity              config.Duration  `json:"default_validity"`
	MaxValidity                  config.Duration  `json:"max_validity"`
	AllowNoExpiry                bool             `json:"allow_no_expiry"`
	Leeway                       *config.Duration `json:"leeway"`
	SubscriptionValidation       bool             `json:"subscription_validation"`
	Endpoint                     *EndpointConfig  `json:"endpoint"`
}

// EndpointConfig configures POST /apikeys.
type EndpointConfig struct {
	// Listen is "admin" (the admin listener, default) or an address for a
	// dedicated listener.
	Listen             string      `json:"listen"`
	TLS                *config.TLS `json:"tls"`
	BasicUsersFile     string      `json:"basic_users_file"`
	BasicUsersMetaFile string      `json:"basic_users_meta_file"`
	PermissionGroup    string      `json:"permission_group"`
	ClientCAFiles      []string    `json:"client_ca_files"`
	AllowedCommonNames []string    `json:"allowed_common_names"`
}

// Defaults of the api_keys section.
const (
	DefaultSectionName = "api_keys"
	DefaultGroup       = "apikey-issuers"
	ListenAdmin        = "admin"
	// Path is where the issuing endpoint answers.
	Path = "/apikeys"
	// JWKSPath is where the verification keys are published.
	JWKSPath = "/.well-known/apikeys-jwks.json"
)

// ApplyDefaults fills in what the section leaves out.
func (k *SectionConfig) ApplyDefaults() {
	if k.Name == "" {
		k.Name = DefaultSectionName
	}
	if k.Algorithm == "" {
		k.Algorithm = DefaultAlgorithm
	}
	config.SetDefault(&k.DefaultValidity, DefaultValidity)
	config.SetDefault(&k.MaxValidity, DefaultMaxValidity)
	if e := k.Endpoint; e != nil {
		if e.Listen == "" {
			e.Listen = ListenAdmin
		}
		if e.PermissionGroup == "" {
			e.PermissionGroup = DefaultGroup
		}
	}
}

// Validate performs the checks of the section (at p) that need no file;
// adminDisabled says the gateway's admin listener is off.
func (k *SectionConfig) Validate(p string, adminDisabled bool, add func(ptr, format string, args ...any)) {
	if k.SigningKeyFile == "" && len(k.VerificationJWKSFiles) == 0 && len(k.VerificationCertificateFiles) == 0 {
		add(p, "api_keys needs signing_key_file, or verification_jwks_files / verification_certificate_files on a replica that only validates keys")
	}
	if k.CertificateFile != "" && k.SigningKeyFile == "" {
		add(p+"/certificate_file", "certificate_file is the signing key's certificate: it needs signing_key_file")
	}
	if k.DefaultValidity > k.MaxValidity {
		add(p+"/default_validity", "default_validity %s exceeds max_validity %s", k.DefaultValidity.D(), k.MaxValidity.D())
	}
	if k.DefaultValidity.D() < time.Minute {
		add(p+"/default_validity", "default_validity must be at least 1m")
	}
	if k.Leeway != nil && (k.Leeway.D() < 0 || k.Leeway.D() > 5*time.Minute) {
		add(p+"/leeway", "leeway must be between 0s and 5m")
	}
	e := k.Endpoint
	if e == nil {
		return
	}
	ep := p + "/endpoint"
	if k.SigningKeyFile == "" {
		add(ep, "the issuing endpoint needs api_keys.signing_key_file")
	}
	if e.BasicUsersFile == "" && len(e.ClientCAFiles) == 0 {
		add(ep, "the issuing endpoint must authenticate its callers: set basic_users_file and/or client_ca_files")
	}
	if e.BasicUsersMetaFile != "" && e.BasicUsersFile == "" {
		add(ep+"/basic_users_meta_file", "basic_users_meta_file needs basic_users_file")
	}
	admin := e.Listen == ListenAdmin
	switch {
	case admin && e.TLS != nil:
		add(ep+"/tls", "tls applies to a dedicated listener; the admin listener is plain HTTP")
	case admin && adminDisabled:
		add(ep+"/listen", "the endpoint is on the admin listener, which is disabled (admin.address is empty)")
	case len(e.ClientCAFiles) > 0 && (admin || e.TLS == nil):
		add(ep+"/client_ca_files", "client certificates need a dedicated TLS listener: set listen to an address and tls")
	}
	if len(e.AllowedCommonNames) > 0 && len(e.ClientCAFiles) == 0 {
		add(ep+"/allowed_common_names", "allowed_common_names needs client_ca_files")
	}
}
