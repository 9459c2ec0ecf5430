package openapi

import (
	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/gateway/edge"
	"github.com/gatehouse/gatehouse/internal/config"
)

// APIConfig is one API: an OpenAPI document plus the gateway facts about it.
type APIConfig struct {
	OpenAPI         string          `json:"openapi"`
	Name            string          `json:"name"`
	Version         string          `json:"version"`
	BasePath        *string         `json:"base_path"`
	Upstream        string          `json:"upstream"`
	UpstreamTimeout config.Duration `json:"upstream_timeout"`
	ScopeMode       string          `json:"scope_mode"`
	ClientCAFiles   []string        `json:"client_ca_files"`
	// MTLS holds the API's client-certificate settings (checked in
	// gateway/config/mtls.go).
	MTLS *MTLSConfig `json:"mtls"`
	// MaxBodyBytes replaces limits.max_body_bytes for this API.
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// WebSockets lets `Upgrade: websocket` through on this API's GET
	// operations; every other upgrade is never forwarded.
	WebSockets bool `json:"websockets"`
	// CORS: the gateway answers preflights and sets CORS headers (gateway/edge).
	CORS *edge.CORSConfig `json:"cors"`
}

// MTLSConfig is an API's mtls block: CRLs, the cache and the allow-lists
// (authn/mtls_scheme.go, beside the mtls scheme).
type MTLSConfig = authn.MTLSAPIConfig
