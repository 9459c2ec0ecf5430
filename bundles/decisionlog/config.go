package decisionlog

import "encoding/json"

// Config (policy.decision_logs): one decision record per request, in
// OPA's decision-log format.
type Config struct {
	// Console writes records to the process log (logger "decisions").
	Console bool `json:"console"`
	// File appends records as JSON lines.
	File string `json:"file"`
	// Service names a service of policy.remote.services that receives the
	// records through OPA's decision-log upload (gzip JSON array POSTs).
	Service string `json:"service"`
	// Resource is the upload path on the service (OPA's default /logs).
	Resource string `json:"resource"`
	// Reporting is OPA's decision_logs.reporting block, as is.
	Reporting json.RawMessage `json:"reporting"`
	// BufferSize bounds the queue between requests and the writer; when
	// full, records are dropped and counted, never waited for.
	BufferSize int `json:"buffer_size"`
	// MaskHeaders are request header names (lowercase) erased from records
	// on top of the defaults (see defaultMaskedHeaders).
	MaskHeaders []string `json:"mask_headers"`
	// Metrics adds OPA's "metrics" member to each record: how long
	// authentication and the policy evaluation took, in nanoseconds.
	Metrics bool `json:"metrics"`
}

// DefaultBufferSize is policy.decision_logs.buffer_size's default.
const DefaultBufferSize = 10000

// ApplyDefaults fills unset values.
func (c *Config) ApplyDefaults() {
	if c.BufferSize == 0 {
		c.BufferSize = DefaultBufferSize
	}
}
