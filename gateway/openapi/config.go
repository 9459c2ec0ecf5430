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
	// gateway/config_mtls.go).
	MTLS *MTLSConfig `json:"mtls"`
	// MaxBodyBytes replaces limits.max_body_bytes for this API.
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// WebSockets lets `Upgrade: websocket` through on this API's GET
	// operations; every other upgrade is never forwarded.
	WebSockets bool `json:"websockets"`
	// CORS: the gateway answers preflights and sets CORS headers (gateway/edge).
	CORS *edge.CORSConfig `json:"cors"`
}

// MTLSConfig is what one API says about client certificates beyond its
// CA bundles (apis[].client_ca_files): CRLs and the cache, and — embedded,
// as authn.MTLSConfig defines them — the allow-lists and which certificate
// field names the caller. The trust is built from the CA and CRL files.
type MTLSConfig struct {
	CRLFiles []string        `json:"crl_files"`
	CacheTTL config.Duration `json:"cache_ttl"`
	authn.MTLSConfig
}
