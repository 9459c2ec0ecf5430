package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestPolicyCLI runs the commands a policy author puts in CI, as they type
// them: exit codes and what is printed where.
func TestPolicyCLI(t *testing.T) {
	committed, err := os.ReadFile("../../schemas/capabilities.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "ok/capabilities", args: []string{"policy", "capabilities"}, wantStdout: string(committed)},
		{name: "ok/test-acme", args: []string{"policy", "test", "../../examples/bundles/acme"}, wantStdout: "PASS: 11/11"},
		{name: "ok/test-acme-coverage", args: []string{"policy", "test", "-coverage", "-threshold", "80", "../../examples/bundles/acme"}, wantStdout: "total"},
		{name: "fail/test-no-paths", args: []string{"policy", "test"}, wantCode: 2, wantStderr: "usage: gatehouse policy test"},
		{name: "fail/test-missing-dir", args: []string{"policy", "test", "no-such-dir"}, wantCode: 1, wantStderr: "no-such-dir"},
		{name: "fail/unknown-subcommand", args: []string{"policy", "lint"}, wantCode: 2, wantStderr: `unknown command "lint"`},
		{name: "fail/no-subcommand", args: []string{"policy"}, wantCode: 2, wantStderr: "capabilities"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout.String(), stderr.String())
			}
			if tc.name == "ok/capabilities" {
				if stdout.String() != tc.wantStdout {
					t.Fatal("policy capabilities differs from schemas/capabilities.json")
				}
				return
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.wantStdout, stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantStderr, stderr.String())
			}
		})
	}
}
