// Package health answers whether a balancer should send this replica
// requests (/readyz): the readiness section, the dependencies the serving
// generation needs and their state, and the report itself. The gateway
// gathers the facts of its serving generation and hands them over; this
// package needs neither the gateway's config nor its generation.
package health

// ReadinessConfig (readiness) says, per kind of dependency, whether its
// outage makes the replica unready (required) or only degraded
// (degraded_ok).
type ReadinessConfig struct {
	// Redis: the internal key manager's Redis token store.
	Redis string `json:"redis"`
	// JWKS: each issuer's remote key set.
	JWKS string `json:"jwks"`
	// KeyManagers: an introspection key manager whose circuit breaker is
	// open.
	KeyManagers string `json:"key_managers"`
	// Reload: the last reload failed (the previous generation serves).
	Reload string `json:"reload"`
	// RemoteBundles: the last remote bundle download or activation failed
	// (the active bundle keeps deciding).
	RemoteBundles string `json:"remote_bundles"`
}

// Readiness modes.
const (
	Required   = "required"
	DegradedOK = "degraded_ok"
)

// ApplyDefaults fills in what the section leaves out.
func (r *ReadinessConfig) ApplyDefaults() {
	for _, f := range []struct {
		v   *string
		def string
	}{{&r.Redis, Required}, {&r.JWKS, Required}, {&r.KeyManagers, Required}, {&r.Reload, DegradedOK}, {&r.RemoteBundles, DegradedOK}} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
}
