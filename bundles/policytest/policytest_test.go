package policytest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/bundles/policytest"
)

const acme = "../../examples/bundles/acme"

// copyAcme copies the example bundle into a temporary folder and appends
// extra Rego to rules.rego (and, if given, a test file).
func copyAcme(t *testing.T, extraRules, extraTest string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(acme)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue // .github: the CI workflow
		}
		b, err := os.ReadFile(filepath.Join(acme, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "rules.rego" {
			b = append(b, []byte(extraRules)...)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if extraTest != "" {
		if err := os.WriteFile(filepath.Join(dir, "extra_test.rego"), []byte(extraTest), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRun(t *testing.T) {
	httpSend := `
deny contains {"reason": "remote_says_no"} if {
	resp := http.send({"method": "GET", "url": "http://127.0.0.1:1/"})
	resp.status_code != 200
}
`
	untested := `
deny contains {"reason": "never_tested"} if {
	input.request.method == "TRACE"
	input.request.path == "/never"
}
`
	failing := `package gatehouse.custom_test

test_wrong if {
	1 == 2
}
`
	typo := `
deny contains {"reason": "typo"} if input.request.methd == "GET"
`
	tests := []struct {
		name    string
		opts    func(t *testing.T) policytest.Options
		wantErr error
		wantOut []string
		errText string
	}{
		{name: "ok/acme", opts: func(*testing.T) policytest.Options {
			return policytest.Options{Paths: []string{acme}}
		}, wantOut: []string{"PASS: 11/11"}},
		{name: "ok/acme-coverage-threshold", opts: func(*testing.T) policytest.Options {
			return policytest.Options{Paths: []string{acme}, Threshold: 90}
		}, wantOut: []string{"coverage:", "rules.rego", "total"}},
		{name: "fail/http.send", opts: func(t *testing.T) policytest.Options {
			return policytest.Options{Paths: []string{copyAcme(t, httpSend, "")}}
		}, wantErr: bundles.ErrCompile, errText: "undefined function http.send"},
		{name: "fail/schema-typo", opts: func(t *testing.T) policytest.Options {
			return policytest.Options{Paths: []string{copyAcme(t, typo, "")}}
		}, wantErr: bundles.ErrCompile, errText: "methd"},
		{name: "fail/failing-test", opts: func(t *testing.T) policytest.Options {
			return policytest.Options{Paths: []string{copyAcme(t, "", failing)}}
		}, wantErr: policytest.ErrFailed, wantOut: []string{"test_wrong", "FAIL"}},
		{name: "fail/coverage-below-threshold", opts: func(t *testing.T) policytest.Options {
			return policytest.Options{Paths: []string{copyAcme(t, untested, "")}, Threshold: 100}
		}, wantErr: policytest.ErrCoverage, wantOut: []string{"not covered"}},
		{name: "fail/no-tests", opts: func(t *testing.T) policytest.Options {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package gatehouse.custom\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return policytest.Options{Paths: []string{dir}}
		}, wantErr: policytest.ErrNoTests},
		{name: "fail/missing-path", opts: func(*testing.T) policytest.Options {
			return policytest.Options{Paths: []string{"no/such/dir"}}
		}, errText: "no/such/dir"},
		{name: "fail/threshold-out-of-range", opts: func(*testing.T) policytest.Options {
			return policytest.Options{Paths: []string{acme}, Threshold: 101}
		}, errText: "between 0 and 100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := policytest.Run(context.Background(), &out, tc.opts(t))
			if tc.wantErr == nil && tc.errText == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v\n%s", err, out.String())
				}
			} else {
				if err == nil {
					t.Fatalf("no error; output:\n%s", out.String())
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v is not %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("error %q does not mention %q", err, tc.errText)
				}
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
