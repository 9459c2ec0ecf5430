package gateway

import (
	"net/netip"

	"github.com/gatehouse/gatehouse/gateway/config"
	shared "github.com/gatehouse/gatehouse/internal/config"
)

// The config file is gateway/config's; these keep gateway's names for it
// until their users name gateway/config directly.
type (
	// Config is the one configuration file (gateway/config/config.go).
	Config = config.Config
	// ListenConfig is listen.
	ListenConfig = config.ListenConfig
	// AdminConfig is admin.
	AdminConfig = config.AdminConfig
	// PolicyConfig is policy.
	PolicyConfig = config.PolicyConfig
	// UpstreamConfig is upstream.
	UpstreamConfig = config.UpstreamConfig
	// LogConfig is log.
	LogConfig = config.LogConfig
	// TLSConfig names the server certificate and key files.
	TLSConfig = config.TLSConfig
	// SchemeConfig is schemes.<name> (authn/schemes.go).
	SchemeConfig = config.SchemeConfig
	// Duration is a time.Duration written as a Go duration string ("10s").
	Duration = config.Duration
	// Secret is a reference to a secret: env:NAME or file:PATH.
	Secret = config.Secret
	// ConfigError is a configuration problem at a JSON pointer in the file.
	ConfigError = config.Error
	// ConfigErrors collects every problem found.
	ConfigErrors = config.Errors
	// IdentityConfig is upstream_identity (gateway/assertion/config.go).
	IdentityConfig = config.IdentityConfig
	// LimitsConfig is limits (gateway/edge/config.go).
	LimitsConfig = config.LimitsConfig
	// RequestHeadersConfig is request_headers (gateway/edge/config.go).
	RequestHeadersConfig = config.RequestHeadersConfig
	// CORSConfig is an API's cors block (gateway/edge/cors.go).
	CORSConfig = config.CORSConfig
	// APIConfig is one entry of apis (gateway/openapi/config.go).
	APIConfig = config.APIConfig
	// APIMTLSConfig is an API's mtls block (gateway/openapi/config.go).
	APIMTLSConfig = config.APIMTLSConfig
	// RateLimitsConfig is rate_limits (gateway/ratelimit/config.go).
	RateLimitsConfig = config.RateLimitsConfig
	// RateConfig is a token bucket of rate_limits.
	RateConfig = config.RateConfig
	// RateRedisConfig is rate_limits.redis.
	RateRedisConfig = config.RateRedisConfig
	// TracingConfig is tracing (gateway/tracing/config.go).
	TracingConfig = config.TracingConfig
	// RemoteConfig is policy.remote (bundles/remote_config.go).
	RemoteConfig = config.RemoteConfig
	// DecisionLogConfig is policy.decision_logs (bundles/decisionlog/config.go).
	DecisionLogConfig = config.DecisionLogConfig
	// APIKeysConfig is the api_keys section.
	APIKeysConfig = config.APIKeysConfig
	// APIKeyEndpointConfig is api_keys.endpoint.
	APIKeyEndpointConfig = config.APIKeyEndpointConfig
	// InternalKeyManagerConfig is the internal_key_manager section.
	InternalKeyManagerConfig = config.InternalKeyManagerConfig
	// RuntimeConfig is runtime (gateway/config/runtime.go).
	RuntimeConfig = config.RuntimeConfig
	// DPoPConfig is dpop (gateway/config/dpop.go).
	DPoPConfig = config.DPoPConfig
	// FrontDoorConfig is listen.ext_authz and listen.forward_auth.
	FrontDoorConfig = config.FrontDoorConfig
	// EdgeMTLSConfig is mtls (gateway/config/mtls.go).
	EdgeMTLSConfig = config.EdgeMTLSConfig
	// ForwardedCertConfig is mtls.forwarded_certificate.
	ForwardedCertConfig = config.ForwardedCertConfig
	// ReadinessConfig is readiness (gateway/config/readiness.go).
	ReadinessConfig = config.ReadinessConfig
	// WatchConfig is watch (gateway/config/bundles.go).
	WatchConfig = config.WatchConfig
)

// Readiness modes (gateway/config/readiness.go).
const (
	Required   = config.Required
	DegradedOK = config.DegradedOK
)

// Scheme config types (authn/schemes.go).
const (
	SchemeBasic  = config.SchemeBasic
	SchemeBearer = config.SchemeBearer
	SchemeAPIKey = config.SchemeAPIKey
	SchemeMTLS   = config.SchemeMTLS
)

// Defaults and limits (gateway/config/defaults.go and the sections' files).
const (
	DefaultAddress               = config.DefaultAddress
	DefaultAdminAddress          = config.DefaultAdminAddress
	DefaultReadHeaderTimeout     = config.DefaultReadHeaderTimeout
	DefaultIdleTimeout           = config.DefaultIdleTimeout
	DefaultShutdownTimeout       = config.DefaultShutdownTimeout
	DefaultDrainDelay            = config.DefaultDrainDelay
	DefaultMaxHeaderBytes        = config.DefaultMaxHeaderBytes
	DefaultMaxStreams            = config.DefaultMaxStreams
	DefaultIdentityHeader        = config.DefaultIdentityHeader
	DefaultIdentityLifetime      = config.DefaultIdentityLifetime
	DefaultDecisionTimeout       = config.DefaultDecisionTimeout
	DefaultUpstreamTimeout       = config.DefaultUpstreamTimeout
	DefaultIdleConnsPerHost      = config.DefaultIdleConnsPerHost
	DefaultWatchDebounce         = config.DefaultWatchDebounce
	DefaultRemoteStartupTimeout  = config.DefaultRemoteStartupTimeout
	DefaultDecisionLogBufferSize = config.DefaultDecisionLogBufferSize
	DefaultAPIKeysName           = config.DefaultAPIKeysName
	DefaultAPIKeyValidity        = config.DefaultAPIKeyValidity
	DefaultAPIKeyMaxValidity     = config.DefaultAPIKeyMaxValidity
	DefaultAPIKeyGroup           = config.DefaultAPIKeyGroup
	APIKeyListenAdmin            = config.APIKeyListenAdmin
	APIKeyPath                   = config.APIKeyPath
	APIKeyJWKSPath               = config.APIKeyJWKSPath
	MaxInternalKMCacheTTL        = config.MaxInternalKMCacheTTL
	InternalKMListenAdmin        = config.InternalKMListenAdmin
	DefaultInternalKMFormat      = config.DefaultInternalKMFormat
)

// ErrSecret is wrapped by every secret resolution failure.
var ErrSecret = config.ErrSecret

// LoadConfig reads a config file (gateway/config.Load).
func LoadConfig(path string) (*Config, error) { return config.Load(path) }

// ParseConfig is LoadConfig for bytes already read (gateway/config.Parse).
func ParseConfig(path string, raw []byte) (*Config, error) { return config.Parse(path, raw) }

func escapePointer(s string) string { return shared.EscapePointer(s) }

// identityKeyPointer is gateway/config.IdentityKeyPointer.
func identityKeyPointer(ui IdentityConfig) string { return config.IdentityKeyPointer(ui) }

// parsePrefix reads a CIDR or a single address.
func parsePrefix(s string) (netip.Prefix, error) { return shared.ParsePrefix(s) }

// ParseMemoryLimit reads a GOMEMLIMIT-style size (gateway/config/runtime.go).
func ParseMemoryLimit(s string) (int64, error) { return config.ParseMemoryLimit(s) }
