package edge

// LimitsConfig bounds what one client can make the gateway hold: request
// bodies, credentials, connections (limits.go). Header size, header and idle
// timeouts and HTTP/2 streams are under listen.
type LimitsConfig struct {
	// MaxBodyBytes is the largest request body forwarded (413 above it);
	// an API's max_body_bytes replaces it for that API.
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// MaxTokenBytes bounds an Authorization credential or API-key header
	// value; longer ones get 431 before any parsing or cryptography.
	MaxTokenBytes int `json:"max_token_bytes"`
	// MaxConnections caps open client connections per listener; more wait
	// in the kernel's accept queue.
	MaxConnections int `json:"max_connections"`
	// MaxPolicyBodyBytes bounds the body read for the policy on operations
	// that opt in (x-gatehouse-policy-body); 413 above it.
	MaxPolicyBodyBytes int64 `json:"max_policy_body_bytes"`
}

// Limit defaults, as documented in the README.
const (
	DefaultMaxBodyBytes   = 10 << 20
	DefaultMaxTokenBytes  = 16 << 10
	DefaultMaxConnections = 10000
	// DefaultMaxPolicyBodyBytes: bodies a policy judges are small
	// documents (an order, a refund), and each is held in memory twice
	// (raw and parsed) while it is decided.
	DefaultMaxPolicyBodyBytes = 64 << 10
)

// ApplyDefaults fills unset values.
func (l *LimitsConfig) ApplyDefaults() {
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxTokenBytes == 0 {
		l.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if l.MaxConnections == 0 {
		l.MaxConnections = DefaultMaxConnections
	}
	if l.MaxPolicyBodyBytes == 0 {
		l.MaxPolicyBodyBytes = DefaultMaxPolicyBodyBytes
	}
}

// PolicyBodyLimit is the most an opted-in operation of an API reads for
// its policy: limits.max_policy_body_bytes, never above the API's body
// limit.
func (l *LimitsConfig) PolicyBodyLimit(apiMax int64) int64 {
	return min(l.MaxPolicyBodyBytes, l.BodyLimit(apiMax))
}

// BodyLimit is the body limit of an API: its own max_body_bytes (apiMax)
// when set, else limits.max_body_bytes.
func (l *LimitsConfig) BodyLimit(apiMax int64) int64 {
	if apiMax > 0 {
		return apiMax
	}
	return l.MaxBodyBytes
}

// RequestHeadersConfig tunes which client-sent headers are removed before
// authentication (headers.go). The defaults (DefaultStripHeaders) always
// apply.
type RequestHeadersConfig struct {
	// Strip adds patterns: a header name, or a prefix ending in "*".
	Strip []string `json:"strip"`
	// Keep exempts exact header names from the patterns (say a client's
	// X-Client-Version). The gateway's own upstream headers cannot be kept.
	Keep []string `json:"keep"`
}
