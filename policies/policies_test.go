package policies_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/gatehouse/gatehouse/policies"
)

// parseAll parses every embedded .rego file as Rego v1; withTests keeps the
// *_test.rego files.
func parseAll(t testing.TB, withTests bool) map[string]*ast.Module {
	t.Helper()
	mods := map[string]*ast.Module{}
	err := fs.WalkDir(policies.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".rego") {
			return err
		}
		if !withTests && strings.HasSuffix(path, "_test.rego") {
			return nil
		}
		src, err := fs.ReadFile(policies.FS, path)
		if err != nil {
			return err
		}
		m, err := ast.ParseModuleWithOpts(path, string(src), ast.ParserOptions{
			RegoVersion:       ast.RegoV1,
			ProcessAnnotation: true,
		})
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		mods[path] = m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return mods
}

// Every embedded .rego file (tests included) parses as Rego v1, and the
// production set (tests excluded, as the engine loads it) compiles in strict
// mode and defines the entry point.
func TestEmbeddedPolicyParsesAndCompiles(t *testing.T) {
	if all := parseAll(t, true); len(all) == 0 {
		t.Fatal("no .rego file embedded")
	}
	mods := parseAll(t, false)
	for _, want := range []string{"decision.rego", "requirements.rego", "revocation.rego", "custom.rego", "principal.rego"} {
		if _, ok := mods["gatehouse/authz/"+want]; !ok {
			t.Errorf("gatehouse/authz/%s is not embedded", want)
		}
	}
	for path := range mods {
		if strings.HasSuffix(path, "_test.rego") {
			t.Errorf("%s: test file leaked into the production set", path)
		}
	}
	c := ast.NewCompiler().WithStrict(true)
	if c.Compile(mods); c.Failed() {
		t.Fatal(c.Errors)
	}
	if rules := c.GetRulesExact(ast.MustParseRef("data.gatehouse.authz.decision")); len(rules) == 0 {
		t.Fatal("data.gatehouse.authz.decision is not defined")
	}
}

// TestRegoTests runs the *_test.rego files, so `go test ./...` covers what
// `opa test policies/` does.
func TestRegoTests(t *testing.T) {
	mods := parseAll(t, true)
	ctx := context.Background()
	// No per-test deadline (opa's default is 5 s): under -race on a loaded
	// 2-core machine a correct test can take longer, and tests never assert
	// timings.
	ch, err := tester.NewRunner().
		SetTimeout(time.Hour).
		SetCompiler(ast.NewCompiler().WithStrict(true)).
		SetModules(mods).
		// The runner's default is 5 s per test; -race on a loaded shared
		// machine has exceeded it. This is not a performance assertion.
		SetTimeout(2*time.Minute).
		RunTests(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r := range ch {
		n++
		if r.Error != nil {
			t.Errorf("%s.%s: error: %v", r.Package, r.Name, r.Error)
		} else if r.Fail {
			t.Errorf("%s.%s: FAIL%s", r.Package, r.Name, failedCases(r.SubResults, ""))
		}
	}
	if n == 0 {
		t.Fatal("no Rego tests ran")
	}
}

// failedCases names the failing cases of a parameterized Rego test.
func failedCases(m tester.SubResultMap, prefix string) string {
	var out string
	for name, sr := range m {
		if !sr.Fail {
			continue
		}
		if len(sr.SubResults) > 0 {
			out += failedCases(sr.SubResults, prefix+name+"/")
			continue
		}
		out += "\n\t" + prefix + name
	}
	return out
}
