package gateway

import (
	"os"
	"runtime/debug"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/gateway/config"
)

// applyRuntime sets GOGC and GOMEMLIMIT from cfg, unless the environment
// already set them (an operator's explicit GOGC/GOMEMLIMIT is never
// overridden). It runs at start and on every activated generation.
func applyRuntime(cfg *config.Config, log hclog.Logger) {
	rt := cfg.Runtime
	if _, set := os.LookupEnv("GOGC"); !set && rt.GCPercent != nil {
		if old := debug.SetGCPercent(*rt.GCPercent); old != *rt.GCPercent {
			log.Info("runtime", "gc_percent", *rt.GCPercent)
		}
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && rt.MemoryLimit != "" {
		n, err := config.ParseMemoryLimit(rt.MemoryLimit)
		if err != nil { // the config check rejected this already
			return
		}
		if old := debug.SetMemoryLimit(n); old != n {
			log.Info("runtime", "memory_limit_bytes", n)
		}
	}
}
