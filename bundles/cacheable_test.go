package bundles_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/bundles"
)

// The decision cache is only allowed when the policy reads nothing a cache
// key does not cover.
func TestCacheability(t *testing.T) {
	tests := []struct {
		name      string
		rego      string // a user module in package gatehouse.custom; "" = base only
		cacheable bool
		why       string
	}{
		{"ok/base-policy-only", "", true, ""},
		{"ok/reads-credentials", `deny contains {"reason": "no_bots"} if input.credentials[_].subject == "bot"`, true, ""},
		{"ok/reads-operation", `deny contains {"reason": "ro"} if input.operation.method == "DELETE"`, true, ""},
		{"ok/reads-client-certificate", `deny contains {"reason": "fwd"} if input.request.client_certificate.forwarded`, true, ""},
		{"ok/log-mask-reads-headers", "package system.log\n\nmask contains \"/input/request/headers/x-secret\" if input.request.headers[\"x-secret\"]", true, ""},
		{"fail/reads-headers", `deny contains {"reason": "h"} if input.request.headers["x-debug"] == "1"`, false, "input.request.headers"},
		{"fail/reads-time", `deny contains {"reason": "late"} if input.time > 0`, false, "input.time"},
		{"fail/whole-input", `deny contains {"reason": "w"} if { x := input; x.request }`, false, "input"},
		{"fail/variable-key", `deny contains {"reason": "v"} if { some k; input[k] == 1 }`, false, "input["},
		{"fail/nondeterministic-builtin", `deny contains {"reason": "n"} if time.now_ns() > 0`, false, "time.now_ns"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := bundles.Options{Base: true}
			if tc.rego != "" {
				dir := t.TempDir()
				src := "package gatehouse.custom\n\n" + tc.rego + "\n"
				if strings.HasPrefix(tc.rego, "package ") {
					src = tc.rego + "\n"
				}
				if err := os.WriteFile(filepath.Join(dir, "custom.rego"), []byte(src), 0o600); err != nil {
					t.Fatal(err)
				}
				opts.Bundles = []string{dir}
			}
			e, err := bundles.Load(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			ok, why := e.Cacheable()
			if ok != tc.cacheable {
				t.Fatalf("cacheable = %v (%s), want %v", ok, why, tc.cacheable)
			}
			if !ok && !strings.Contains(why, tc.why) {
				t.Fatalf("why = %q, want it to mention %q", why, tc.why)
			}
		})
	}
}
