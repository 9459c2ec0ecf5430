package gateway

import "github.com/gatehouse/gatehouse/authn/keymanager"

// fleetSignals names what in cfg says that more than one replica will run:
// state shared through Redis is only needed by a fleet.
func fleetSignals(cfg *Config) []string {
	var out []string
	if km := cfg.InternalKeyManager; km != nil && km.Store.Type == keymanager.StoreRedis {
		out = append(out, "internal_key_manager.store is redis")
	}
	if rl := cfg.RateLimits; rl != nil && rl.Redis != nil {
		out = append(out, "rate_limits.redis is set")
	}
	return out
}

// identityKeyWarnings warns when replicas would each sign identity
// assertions with a key of their own: an upstream that holds one replica's
// key set then rejects requests routed through the others.
func identityKeyWarnings(cfg *Config, warn func(ptr, format string, args ...any)) {
	ui := cfg.UpstreamIdentity
	if ui.Enabled == nil || !*ui.Enabled || ui.Shared() {
		return
	}
	if sig := fleetSignals(cfg); len(sig) > 0 {
		warn("/upstream_identity", "no key_file: each replica signs identity assertions with a key it generates, so an upstream holding one replica's key set rejects the others' (%s, so more than one replica is expected); give every replica the same key_file (README: Operating a fleet)",
			orNone(sig))
	}
}
