package gateway

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/gateway/config"
)

// unsetEnv removes name for the test and restores it afterwards.
func unsetEnv(t *testing.T, name string) {
	t.Helper()
	old, had := os.LookupEnv(name)
	os.Unsetenv(name)
	t.Cleanup(func() {
		if had {
			os.Setenv(name, old)
		}
	})
}

// TestApplyRuntime: the config sets GOGC/GOMEMLIMIT, the environment wins.
// (Not parallel: the settings are process-wide.)
func TestApplyRuntime(t *testing.T) {
	oldGC := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(oldGC)
		debug.SetMemoryLimit(oldLimit)
	})
	p := 300
	cfg := &config.Config{Runtime: config.RuntimeConfig{GCPercent: &p, MemoryLimit: "1GiB"}}

	t.Run("config", func(t *testing.T) {
		unsetEnv(t, "GOGC")
		unsetEnv(t, "GOMEMLIMIT")
		debug.SetGCPercent(100)
		applyRuntime(cfg, hclog.NewNullLogger())
		if got := debug.SetGCPercent(100); got != 300 {
			t.Errorf("GOGC = %d, want 300 from the config", got)
		}
		if got := debug.SetMemoryLimit(-1); got != 1<<30 {
			t.Errorf("GOMEMLIMIT = %d, want 1GiB from the config", got)
		}
	})
	t.Run("environment wins", func(t *testing.T) {
		t.Setenv("GOGC", "150")
		t.Setenv("GOMEMLIMIT", "2GiB")
		debug.SetGCPercent(150)
		before := debug.SetMemoryLimit(-1)
		applyRuntime(cfg, hclog.NewNullLogger())
		if got := debug.SetGCPercent(150); got != 150 {
			t.Errorf("GOGC = %d, want the environment's 150", got)
		}
		if got := debug.SetMemoryLimit(-1); got != before {
			t.Errorf("GOMEMLIMIT changed to %d although the environment sets it", got)
		}
	})
	t.Run("unset leaves the runtime alone", func(t *testing.T) {
		unsetEnv(t, "GOGC")
		unsetEnv(t, "GOMEMLIMIT")
		debug.SetGCPercent(100)
		applyRuntime(&config.Config{}, hclog.NewNullLogger())
		if got := debug.SetGCPercent(100); got != 100 {
			t.Errorf("GOGC = %d without runtime config, want the runtime's 100", got)
		}
	})
}
