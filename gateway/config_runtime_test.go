package gateway

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestParseMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int64
		wantErr  bool
	}{
		{name: "bytes", in: "1048576", want: 1 << 20},
		{name: "B", in: "10B", want: 10},
		{name: "KiB", in: "4KiB", want: 4 << 10},
		{name: "MiB", in: "512MiB", want: 512 << 20},
		{name: "GiB", in: "2GiB", want: 2 << 30},
		{name: "TiB", in: "1TiB", want: 1 << 40},
		{name: "decimal unit", in: "512MB", wantErr: true},
		{name: "negative", in: "-1", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "fraction", in: "1.5GiB", wantErr: true},
		{name: "overflow", in: "99999999999TiB", wantErr: true},
		{name: "overflow digits", in: "99999999999999999999999", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMemoryLimit(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseMemoryLimit(%q) = %d, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseMemoryLimit(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

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
	cfg := &Config{Runtime: RuntimeConfig{GCPercent: &p, MemoryLimit: "1GiB"}}

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
		applyRuntime(&Config{}, hclog.NewNullLogger())
		if got := debug.SetGCPercent(100); got != 100 {
			t.Errorf("GOGC = %d without runtime config, want the runtime's 100", got)
		}
	})
}
