package config

import (
	"fmt"
	"regexp"
	"strconv"
)

// RuntimeConfig tunes the Go runtime of `gatehouse run`.
//
// Why the knob exists: the request path allocates tens of kilobytes in
// hundreds of short-lived objects (parsed tokens, the policy's evaluation
// state), so at Go's default GOGC=100 the collector takes 12–20% of the CPU
// of first-seen tokens (profiles of `make bench`). GOGC=400 measured 0.19–0.23×
// → 0.26–0.29× of the bare proxy on fresh RS256 tokens — but the heap then
// grows to five times the live heap between collections, so the default stays
// Go's own and operators choose the trade.
// memory_limit bounds it: near the limit the collector runs as often as it
// must, whatever gc_percent says.
type RuntimeConfig struct {
	// GCPercent is GOGC (default: the runtime's, 100). The GOGC
	// environment variable wins.
	GCPercent *int `json:"gc_percent"`
	// MemoryLimit is GOMEMLIMIT ("512MiB"; none by default). The
	// GOMEMLIMIT environment variable wins.
	MemoryLimit string `json:"memory_limit"`
}

var memoryLimitRE = regexp.MustCompile(`^([0-9]+)(B|KiB|MiB|GiB|TiB)?$`)

// ParseMemoryLimit reads a GOMEMLIMIT-style size: digits and an optional
// B, KiB, MiB, GiB or TiB suffix.
func ParseMemoryLimit(s string) (int64, error) {
	m := memoryLimitRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("memory limit %q: want digits and an optional B, KiB, MiB, GiB or TiB suffix", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memory limit %q: %w", s, err)
	}
	shift := map[string]uint{"": 0, "B": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40}[m[2]]
	if n > (1<<62)>>shift {
		return 0, fmt.Errorf("memory limit %q: too large", s)
	}
	return n << shift, nil
}
