package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/gateway/assertion"
	"github.com/gatehouse/gatehouse/gateway/edge"
	"github.com/gatehouse/gatehouse/gateway/openapi"
	"github.com/gatehouse/gatehouse/gateway/ratelimit"
	"github.com/gatehouse/gatehouse/gateway/tracing"
	shared "github.com/gatehouse/gatehouse/internal/config"
)

// Config is the gateway's one configuration file, after schema validation and
// defaults. It is read once per generation and never mutated afterwards.
// Every key is documented in README.md, "Configuration reference".
type Config struct {
	Listen           ListenConfig             `json:"listen"`
	Admin            AdminConfig              `json:"admin"`
	APIs             []APIConfig              `json:"apis"`
	Schemes          map[string]SchemeConfig  `json:"schemes"`
	Issuers          []authn.IssuerConfig     `json:"issuers"`
	KeyManagers      []authn.KeyManagerConfig `json:"key_managers"`
	Policy           PolicyConfig             `json:"policy"`
	Upstream         UpstreamConfig           `json:"upstream"`
	UpstreamIdentity IdentityConfig           `json:"upstream_identity"`
	Log              LogConfig                `json:"log"`
	Watch            WatchConfig              `json:"watch"`
	APIKeys          *APIKeysConfig           `json:"api_keys"`
	MTLS             EdgeMTLSConfig           `json:"mtls"`
	// RequestHeaders: client-sent headers removed at the edge (gateway/edge).
	RequestHeaders RequestHeadersConfig `json:"request_headers"`
	// Limits: resource limits at the edge (gateway/edge).
	Limits LimitsConfig `json:"limits"`
	// RateLimits: per client IP and per plan (gateway/ratelimit).
	RateLimits *RateLimitsConfig `json:"rate_limits"`

	// DPoP: how DPoP proofs are checked (dpop.go).
	DPoP *DPoPConfig `json:"dpop"`

	// InternalKeyManager: internalkm.go.
	InternalKeyManager *InternalKeyManagerConfig `json:"internal_key_manager"`

	// Readiness: which dependencies make /readyz fail (gateway/readiness.go).
	Readiness ReadinessConfig `json:"readiness"`

	// InstanceID names this process in decision logs (labels.id); default
	// the host name and a random suffix (gateway/instance.go). Read at start.
	InstanceID string `json:"instance_id"`

	// Runtime: GOGC and GOMEMLIMIT of `gatehouse run` (runtime.go).
	Runtime RuntimeConfig `json:"runtime"`

	// Tracing: OpenTelemetry spans over OTLP; off when absent
	// (gateway/tracing).
	Tracing *TracingConfig `json:"tracing"`

	// Path is the file the config was read from; Dir resolves relative paths.
	Path string `json:"-"`
	Dir  string `json:"-"`
}

// ListenConfig configures the public listeners.
type ListenConfig struct {
	Address           string     `json:"address"`
	TLS               *TLSConfig `json:"tls"`
	HTTPAddress       string     `json:"http_address"`
	ReadHeaderTimeout Duration   `json:"read_header_timeout"`
	ReadTimeout       Duration   `json:"read_timeout"`
	WriteTimeout      Duration   `json:"write_timeout"`
	IdleTimeout       Duration   `json:"idle_timeout"`
	ShutdownTimeout   Duration   `json:"shutdown_timeout"`
	// DrainDelay is how long /readyz fails on SIGTERM before the listeners
	// stop accepting (gateway/drain.go), so balancers stop sending first.
	DrainDelay           Duration `json:"drain_delay"`
	MaxHeaderBytes       int      `json:"max_header_bytes"`
	MaxConcurrentStreams int      `json:"max_concurrent_streams"`
	// ExtAuthz and ForwardAuth are the front doors for another proxy
	// (frontdoors.go).
	ExtAuthz    *FrontDoorConfig `json:"ext_authz"`
	ForwardAuth *FrontDoorConfig `json:"forward_auth"`
	// AllowCredentialsOverHTTP lets schemes with client-sent credentials
	// serve on http_address (edge.go).
	AllowCredentialsOverHTTP bool `json:"allow_credentials_over_http"`
}

// AdminConfig configures the admin listener.
type AdminConfig struct {
	Address *string `json:"address"`
}

// Scheme config types (authn/schemes.go).
const (
	SchemeBasic  = authn.SchemeBasic
	SchemeBearer = authn.SchemeBearer
	SchemeAPIKey = authn.SchemeAPIKey
	SchemeMTLS   = authn.SchemeMTLS
)

// PolicyConfig says where policies and data come from.
type PolicyConfig struct {
	Base            *bool    `json:"base"`
	Bundles         []string `json:"bundles"`
	DecisionTimeout Duration `json:"decision_timeout"`
	// Remote and DecisionLogs: see bundles.go.
	Remote       *RemoteConfig      `json:"remote"`
	DecisionLogs *DecisionLogConfig `json:"decision_logs"`
}

// UpstreamConfig tunes the shared upstream transport.
type UpstreamConfig struct {
	MaxIdleConnsPerHost int      `json:"max_idle_conns_per_host"`
	DialTimeout         Duration `json:"dial_timeout"`
	IdleConnTimeout     Duration `json:"idle_conn_timeout"`
	CAFiles             []string `json:"ca_files"`
}

// LogConfig configures logging.
type LogConfig struct {
	Level  string `json:"level"`
	Format string `json:"format"`
	Audit  *bool  `json:"audit"`
}

// The sections other packages own, under the names the gateway uses.
type (
	// SchemeConfig is schemes.<name> (authn/schemes.go).
	SchemeConfig = authn.SchemeConfig
	// Error is a configuration problem at a JSON pointer in the file.
	Error = shared.Error
	// Errors collects every problem found.
	Errors = shared.Errors
	// IdentityConfig is upstream_identity (gateway/assertion/config.go).
	IdentityConfig = assertion.Config
	// LimitsConfig is limits (gateway/edge/config.go).
	LimitsConfig = edge.LimitsConfig
	// RequestHeadersConfig is request_headers (gateway/edge/config.go).
	RequestHeadersConfig = edge.RequestHeadersConfig
	// APIConfig is one entry of apis (gateway/openapi/config.go).
	APIConfig = openapi.APIConfig
	// RateLimitsConfig is rate_limits (gateway/ratelimit/config.go).
	RateLimitsConfig = ratelimit.Config
	// TracingConfig is tracing (gateway/tracing/config.go).
	TracingConfig = tracing.Config
)

// ErrSecret is wrapped by every secret resolution failure.
var ErrSecret = shared.ErrSecret

// Load reads, schema-validates and decodes a config file, and applies
// defaults. It does not read the files the config references; BuildGeneration
// does, and reports those problems with the same Error type.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, raw)
}

// Parse is Load for bytes already read; path names the file in
// errors and anchors relative paths.
func Parse(path string, raw []byte) (*Config, error) {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, Errors{{File: path, Msg: "not valid YAML: " + err.Error()}}
	}
	if err := validateAgainst("config.schema.json", path, js); err != nil {
		return nil, withSemanticErrors(path, js, err)
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config path: %w", err)
	}
	c.Path = abs
	c.Dir = filepath.Dir(abs)
	c.applyDefaults()
	if errs := c.check(); len(errs) > 0 {
		return nil, errs
	}
	return &c, nil
}
