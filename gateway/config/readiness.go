package config

// ReadinessConfig (readiness) says, per kind of dependency, whether its
// outage makes the replica unready (required) or only degraded
// (degraded_ok).
type ReadinessConfig struct {
	// Redis: the internal key manager's Redis token store and the DPoP
	// replay cache's Redis.
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

// ApplyDefaults: a store, key set or key manager outage makes the replica
// unready; a failed reload or bundle download only degraded.
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
