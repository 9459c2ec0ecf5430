package health

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/gateway/config"
)

// A required dependency down makes the replica unready; a degraded_ok one
// only degraded; nothing down is ready.
func TestReadinessOf(t *testing.T) {
	up := func(mode string) Dependency { return Dependency{Name: "x", State: StateUp, Mode: mode} }
	down := func(mode string) Dependency { return Dependency{Name: "y", State: StateDown, Mode: mode} }
	cases := []struct {
		name   string
		deps   []Dependency
		status string
		code   int
	}{
		{"ok/nothing to depend on", nil, "ready", http.StatusOK},
		{"ok/all up", []Dependency{up(config.Required), up(config.DegradedOK)}, "ready", http.StatusOK},
		{"degraded/degraded_ok down", []Dependency{up(config.Required), down(config.DegradedOK)}, "degraded", http.StatusOK},
		{"not_ready/required down", []Dependency{down(config.DegradedOK), down(config.Required)}, "not_ready", http.StatusServiceUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, code := Of(c.deps)
			if status != c.status || code != c.code {
				t.Fatalf("got %s %d, want %s %d", status, code, c.status, c.code)
			}
		})
	}
}
