package gateway

import "github.com/gatehouse/gatehouse/gateway/config"

// The config sections that moved to gateway/config, under gateway's names
// until their users name gateway/config directly.
type (
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

// ParseMemoryLimit reads a GOMEMLIMIT-style size (gateway/config/runtime.go).
func ParseMemoryLimit(s string) (int64, error) { return config.ParseMemoryLimit(s) }
