// Package policytest runs a user's Rego tests the way the gateway will run
// the policy: together with the base policy compiled into the binary, with the
// gateway's sandboxed OPA capabilities (so a rule calling http.send fails here,
// not at reload) and type-checked against schemas/input.schema.json. It is what
// `gatehouse policy test` runs, and what users put in CI.
//
// It uses OPA's own tester and cover packages rather than shelling out to an
// opa binary, so the engine is exactly the one the gateway embeds.
package policytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/schemas"
)

// Errors callers inspect with errors.Is.
var (
	// ErrFailed: at least one test failed or errored.
	ErrFailed = errors.New("policy tests failed")
	// ErrCoverage: the tests passed but covered less than the threshold.
	ErrCoverage = errors.New("policy test coverage below threshold")
	// ErrNoTests: nothing named test_* was found in the given paths.
	ErrNoTests = errors.New("no policy tests found")
)

// Options says what to test and how to report it.
type Options struct {
	// Paths are files or directories of Rego, JSON and YAML, loaded the way
	// `opa test` loads them (data files by their directory).
	Paths []string
	// NoBase leaves the embedded base policy out (for testing policies/
	// itself, or a policy set that brings its own copy).
	NoBase bool
	// Run is a regular expression selecting tests by name (opa test --run).
	Run string
	// Verbose prints every test, with print() output and failure traces.
	Verbose bool
	// Coverage prints per-file coverage of the user's (non-test) files.
	Coverage bool
	// Threshold (0–100) fails the run when the user's files are less
	// covered; a threshold turns Coverage on.
	Threshold float64
	// Timeout bounds each test; 0 means 5s, as in opa test.
	Timeout time.Duration
}

// Run loads, compiles and runs the tests and writes the report to out. The
// error wraps ErrFailed, ErrCoverage or ErrNoTests, or is a load or compile
// error (an undefined function such as http.send is one).
func Run(ctx context.Context, out io.Writer, opts Options) error {
	if opts.Threshold < 0 || opts.Threshold > 100 {
		return fmt.Errorf("coverage threshold %v is not between 0 and 100", opts.Threshold)
	}
	if opts.Threshold > 0 {
		opts.Coverage = true
	}
	if len(opts.Paths) == 0 {
		return fmt.Errorf("%w: no paths given", ErrNoTests)
	}
	for _, p := range opts.Paths {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("cannot read %s: %w", p, err)
		}
	}
	caps := bundles.Capabilities()
	popts := ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: caps, ProcessAnnotation: true}
	userModules, store, err := tester.LoadWithParserOptions(opts.Paths, skipHidden, popts)
	if err != nil {
		return err
	}
	modules := maps.Clone(userModules)
	if !opts.NoBase {
		base, err := bundles.BaseModules()
		if err != nil {
			return err
		}
		maps.Copy(modules, base)
	}
	schemaSet, err := inputSchema()
	if err != nil {
		return err
	}
	compiler := ast.NewCompiler().
		WithCapabilities(caps).
		WithSchemas(schemaSet).
		WithUseTypeCheckAnnotations(true).
		WithEnablePrintStatements(true)

	var cov *cover.Cover
	var covTracer topdown.QueryTracer
	if opts.Coverage {
		cov = cover.New()
		covTracer = cov
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(store).
		CapturePrintOutput(true).
		EnableTracing(opts.Verbose).
		SetCoverageQueryTracer(covTracer).
		SetModules(modules).
		SetTimeout(timeout).
		Filter(opts.Run)

	var results []*tester.Result
	err = storage.Txn(ctx, store, storage.TransactionParams{}, func(txn storage.Transaction) error {
		ch, err := runner.RunTests(ctx, txn)
		if err != nil {
			return err
		}
		for r := range ch {
			results = append(results, r)
		}
		return nil
	})
	if err != nil {
		return compileError(err)
	}
	if len(results) == 0 {
		return fmt.Errorf("%w in %s", ErrNoTests, strings.Join(opts.Paths, " "))
	}
	rep := tester.PrettyReporter{Output: out, Verbose: opts.Verbose}
	if rerr := rep.Report(resultChan(results)); rerr != nil {
		return fmt.Errorf("%w: %w", ErrFailed, rerr)
	}
	failed := 0
	for _, r := range results {
		if !r.Pass() && !r.Skip {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d", ErrFailed, failed, len(results))
	}
	if !opts.Coverage {
		return nil
	}
	return reportCoverage(out, cov, userModules, opts.Threshold)
}

// reportCoverage prints coverage of the user's policy files — not of their
// tests, and not of the base policy, which has its own tests — and checks
// the threshold against their total.
func reportCoverage(out io.Writer, cov *cover.Cover, userModules map[string]*ast.Module, threshold float64) error {
	policyOnly := map[string]*ast.Module{}
	for name, m := range userModules {
		if !strings.HasSuffix(name, "_test.rego") {
			policyOnly[name] = m
		}
	}
	report := cov.Report(policyOnly)
	fmt.Fprintln(out, "coverage:")
	covered, total := 0, 0
	for _, file := range slices.Sorted(maps.Keys(report.Files)) {
		if _, ok := policyOnly[file]; !ok {
			continue // a test file, or the base policy
		}
		fr := report.Files[file]
		covered += fr.CoveredLines
		total += fr.CoveredLines + fr.NotCoveredLines
		fmt.Fprintf(out, "  %6.2f%%  %s", fr.Coverage, file)
		if len(fr.NotCovered) > 0 {
			var rows []string
			for _, r := range fr.NotCovered {
				if r.Start.Row == r.End.Row {
					rows = append(rows, fmt.Sprint(r.Start.Row))
				} else {
					rows = append(rows, fmt.Sprintf("%d-%d", r.Start.Row, r.End.Row))
				}
			}
			fmt.Fprintf(out, "  (not covered: %s)", strings.Join(rows, ","))
		}
		fmt.Fprintln(out)
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(covered) / float64(total)
	}
	fmt.Fprintf(out, "  %6.2f%%  total (%d of %d lines)\n", pct, covered, total)
	if pct < threshold {
		return fmt.Errorf("%w: %.2f%% < %.2f%%", ErrCoverage, pct, threshold)
	}
	return nil
}

// inputSchema binds schemas/input.schema.json to input, as `opa check
// --schema schemas/input.schema.json` does.
func inputSchema() (*ast.SchemaSet, error) {
	raw, err := schemas.FS.ReadFile("input.schema.json")
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("schemas/input.schema.json: %w", err)
	}
	ss := ast.NewSchemaSet()
	ss.Put(ast.SchemaRootRef, doc)
	return ss, nil
}

// compileError keeps OPA's compile errors (file:row: message, one a line)
// readable instead of one long joined line.
func compileError(err error) error {
	var errs ast.Errors
	if errors.As(err, &errs) {
		lines := make([]string, 0, len(errs))
		for _, e := range errs {
			lines = append(lines, e.Error())
		}
		return fmt.Errorf("%w with the gateway's capabilities and input schema:\n  %s",
			bundles.ErrCompile, strings.Join(lines, "\n  "))
	}
	return err
}

// skipHidden skips dot files and folders (.manifest, .git, .github), which
// opa test would try to read as data.
func skipHidden(_ string, info os.FileInfo, depth int) bool {
	return depth > 0 && strings.HasPrefix(filepath.Base(info.Name()), ".")
}

func resultChan(rs []*tester.Result) chan *tester.Result {
	ch := make(chan *tester.Result, len(rs))
	for _, r := range rs {
		ch <- r
	}
	close(ch)
	return ch
}
