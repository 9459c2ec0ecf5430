// Package bundles owns where policy and data come from: the base policy
// compiled into the binary, local bundle directories and tarballs (watched
// for changes by Watcher), and remote bundles pulled from OPA bundle
// services (Remote). It compiles them once with a sandboxed set of
// capabilities, prepares the decision query, and evaluates it per request.
//
// An Engine is immutable: a reload builds a new Engine on the side and the
// gateway swaps it in atomically with the rest of its generation, so a bad
// bundle never replaces a good one.
package bundles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/gatehouse/gatehouse/policies"
)

// DecisionQuery is the policy entry point every bundle set must define.
const DecisionQuery = "data.gatehouse.authz.decision"

// Errors callers inspect with errors.Is.
var (
	ErrLoad      = errors.New("policy bundle cannot be loaded")
	ErrCompile   = errors.New("policy does not compile")
	ErrEval      = errors.New("policy evaluation failed")
	ErrUndefined = errors.New("policy decision is undefined")
	ErrDeadline  = errors.New("policy evaluation deadline exceeded")
)

// Options says which policies and data to load.
type Options struct {
	// Base loads the base policy embedded in the binary (policies/).
	Base bool
	// Bundles are bundle directories or .tar.gz files, loaded in order.
	Bundles []string
	// Remote are bundles already downloaded (and verified) from a bundle
	// service; they go through exactly the checks local bundles do.
	Remote []*Source
	// Timeout bounds one decision; 0 means no bound beyond the caller's ctx.
	Timeout time.Duration
	// Operations are the gateway's operations; each gets a plan (plan.go)
	// where the policy allows one: Engine.Plans, in the same order.
	Operations []Operation
}

// Engine is one compiled, prepared policy set.
type Engine struct {
	query     rego.PreparedEvalQuery
	direct    *directQuery
	compiler  *ast.Compiler
	store     map[string]any
	revisions map[string]string
	revision  string
	timeout   time.Duration
	// mask and drop are data.system.log.mask / drop, when defined.
	mask, drop *rego.PreparedEvalQuery
	// unmask is data.system.log.unmask (decision-log body fields to keep).
	unmask *rego.PreparedEvalQuery
	// plans: Options.Operations[i] → its plan (nil: the full query).
	plans []*Plan
	// cacheable: decisions depend only on the operation, credentials,
	// rejections and client certificate (see cacheable.go).
	cacheable      bool
	uncacheableWhy string
}

// Cacheable reports whether a decision may be cached by (operation,
// credentials, rejections, client certificate), and if not, why.
func (e *Engine) Cacheable() (bool, string) { return e.cacheable, e.uncacheableWhy }

// Capabilities returns the builtins user policies may call: OPA's own set
// without the ones that reach the network or the process environment
// (http.send, net.lookup_ip_addr, opa.runtime). Pure builtins such as
// net.cidr_contains stay: they are how policies express IP ranges.
func Capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	denied := map[string]bool{
		"http.send":          true,
		"net.lookup_ip_addr": true,
		"opa.runtime":        true,
	}
	kept := caps.Builtins[:0]
	for _, b := range caps.Builtins {
		if !denied[b.Name] {
			kept = append(kept, b)
		}
	}
	caps.Builtins = kept
	return caps
}

// Load compiles the configured policies and data and prepares the decision
// query. Errors wrap ErrLoad, ErrData, ErrRoots or ErrCompile; on any error
// nothing is returned, so the caller keeps what it had.
func Load(ctx context.Context, opts Options) (*Engine, error) {
	caps := Capabilities()
	modules := map[string]*ast.Module{}
	data := map[string]any{}
	revisions := map[string]string{}

	if opts.Base {
		if err := loadEmbedded(modules, caps); err != nil {
			return nil, err
		}
		revisions["gatehouse-base"] = "builtin"
	}
	srcs := make([]*Source, 0, len(opts.Bundles)+len(opts.Remote))
	for _, p := range opts.Bundles {
		if err := exists(p); err != nil {
			return nil, err
		}
		s, err := ReadLocal(p)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, s)
	}
	srcs = append(srcs, opts.Remote...)
	if err := checkSources(srcs, opts.Base); err != nil {
		return nil, err
	}
	for _, s := range srcs {
		if err := validateData(s); err != nil {
			return nil, err
		}
		for _, mf := range s.Bundle.Modules {
			if strings.HasSuffix(mf.Path, "_test.rego") {
				continue
			}
			modules[s.Origin+":"+mf.Path] = mf.Parsed
		}
		if err := mergeData(data, s.Bundle.Data, s.Origin); err != nil {
			return nil, err
		}
		name := s.Name
		if _, dup := revisions[name]; dup {
			name = s.Origin
		}
		revisions[name] = s.Revision()
	}

	// One compilation at a time in the process: OPA's type checker merges
	// object types in place (ast/env.go mergeTypes in OPA v1.22), and the
	// builtins' declared types are shared by every compiler, so two
	// generations built at once (two servers in one process, a reload
	// during another) race on them. Builds are rare; requests never wait
	// on this.
	compileMu.Lock()
	defer compileMu.Unlock()
	plans := buildPlans(opts.Operations, modules, data, caps)
	compiler := compileWithPlans(modules, plans, caps)
	if compiler.Failed() {
		return nil, fmt.Errorf("%w: %w", ErrCompile, compiler.Errors)
	}
	if len(compiler.GetRulesForVirtualDocument(ast.MustParseRef(DecisionQuery))) == 0 {
		return nil, fmt.Errorf("%w: no rule defines %s", ErrCompile, DecisionQuery)
	}

	store := inmem.NewFromObjectWithOpts(data, inmem.OptRoundTripOnWrite(false))
	pq, err := rego.New(
		rego.Query(DecisionQuery),
		rego.Compiler(compiler),
		rego.Store(store),
		rego.Capabilities(caps),
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCompile, err)
	}
	direct, err := newDirectQuery(compiler, store, decisionRef)
	if err != nil {
		return nil, err
	}
	e := &Engine{query: pq, direct: direct, compiler: compiler, store: data, revisions: revisions, timeout: opts.Timeout}
	if e.plans, err = preparePlans(compiler, store, plans, len(opts.Operations)); err != nil {
		return nil, err
	}
	if err := e.prepareLogQueries(ctx, store, caps); err != nil {
		return nil, err
	}
	e.revision = e.joinRevisions()
	e.cacheable, e.uncacheableWhy = cacheability(compiler)
	return e, nil
}

// compileMu serializes Load's compile and prepare steps (see Load).
var compileMu sync.Mutex

// BaseModules parses the base policy embedded in the binary (without its
// tests), keyed "builtin:gatehouse/authz/<file>.rego" — what Load compiles
// when Options.Base is set, for tools that compile it with user policies
// (`gatehouse policy test`).
func BaseModules() (map[string]*ast.Module, error) {
	modules := map[string]*ast.Module{}
	if err := loadEmbedded(modules, Capabilities()); err != nil {
		return nil, err
	}
	return modules, nil
}

// CapabilitiesJSON is Capabilities as the JSON document `opa check
// --capabilities` and `opa test --capabilities` read; the same bytes are
// committed as schemas/capabilities.json.
func CapabilitiesJSON() ([]byte, error) {
	b, err := json.MarshalIndent(Capabilities(), "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func loadEmbedded(modules map[string]*ast.Module, caps *ast.Capabilities) error {
	return fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".rego") || strings.HasSuffix(p, "_test.rego") {
			return nil
		}
		src, err := policies.FS.ReadFile(p)
		if err != nil {
			return err
		}
		m, err := ast.ParseModuleWithOpts("builtin:"+p, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: caps})
		if err != nil {
			return fmt.Errorf("%w: base policy %s: %w", ErrCompile, p, err)
		}
		modules["builtin:"+p] = m
		return nil
	})
}

// mergeData deep-merges src into dst; two bundles writing the same leaf is an
// error rather than a silent override.
func mergeData(dst, src map[string]any, from string) error {
	for k, v := range src {
		existing, ok := dst[k]
		if !ok {
			dst[k] = v
			continue
		}
		em, ok1 := existing.(map[string]any)
		vm, ok2 := v.(map[string]any)
		if !ok1 || !ok2 {
			return fmt.Errorf("%w: %s: data key %q is defined by more than one bundle", ErrLoad, from, k)
		}
		if err := mergeData(em, vm, from); err != nil {
			return err
		}
	}
	return nil
}

// Revisions returns bundle name → revision of what this engine was built from.
func (e *Engine) Revisions() map[string]string {
	out := make(map[string]string, len(e.revisions))
	for k, v := range e.revisions {
		out[k] = v
	}
	return out
}

// Revision is a compact, stable string of all bundle revisions, for logs.
func (e *Engine) Revision() string { return e.revision }

func (e *Engine) joinRevisions() string {
	keys := make([]string, 0, len(e.revisions))
	for k := range e.revisions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(e.revisions[k])
	}
	return b.String()
}

// Compiler exposes the compiled modules (for explain and tests).
func (e *Engine) Compiler() *ast.Compiler { return e.compiler }

// Data returns the merged bundle data (read-only).
func (e *Engine) Data() map[string]any { return e.store }

// Decide evaluates the decision for one input. The returned error wraps
// ErrEval, ErrUndefined or ErrDeadline; callers fail closed on any error.
//
// Without options the query runs on the direct evaluator (direct.go): about
// 50 allocations less per decision than rego with the two options below (an
// allowed JWT: 109 vs 160, policies/bench_test.go). With options (explain's
// tracer) it goes through rego, keeping the result as an *ast.Term
// (EvalGenerateJSON hands it back unconverted) with metrics off: ~60
// allocations less than plain Eval (policies/bench_test.go, BenchmarkDecide
// here).
func (e *Engine) Decide(ctx context.Context, input ast.Value, opts ...rego.EvalOption) (*Decision, error) {
	if len(opts) == 0 {
		return e.decideDirect(ctx, e.direct, input)
	}
	if e.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
		defer cancel()
	}
	var buf [4]rego.EvalOption
	evalOpts := append(buf[:0], rego.EvalParsedInput(input), evalAsTerm, evalNoMetrics)
	evalOpts = append(evalOpts, opts...)
	rs, err := e.query.Eval(ctx, evalOpts...)
	if err != nil {
		return nil, evalError(ctx, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, ErrUndefined
	}
	t, ok := rs[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return nil, fmt.Errorf("%w: decision is %T, not a term", ErrEval, rs[0].Expressions[0].Value)
	}
	return decisionFrom(t.Value)
}

// decideDirect evaluates q (the decision query or a plan) on the direct
// evaluator.
func (e *Engine) decideDirect(ctx context.Context, q *directQuery, input ast.Value) (*Decision, error) {
	var deadline time.Time
	if e.timeout > 0 {
		deadline = time.Now().Add(e.timeout)
	}
	t, err := q.eval(ctx, input, deadline)
	if errors.Is(err, errDeadline) {
		return nil, fmt.Errorf("%w: %w", ErrDeadline, err)
	}
	if err != nil {
		return nil, evalError(ctx, err)
	}
	if t == nil {
		return nil, ErrUndefined
	}
	return decisionFrom(t.Value)
}

func evalError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrDeadline, err)
	}
	return fmt.Errorf("%w: %w", ErrEval, err)
}

var (
	// evalAsTerm keeps the result as the *ast.Term the evaluator produced.
	evalAsTerm = rego.EvalGenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil })
	// evalNoMetrics skips the timers and counters OPA keeps per evaluation.
	evalNoMetrics = rego.EvalMetrics(metrics.NoOp())
)
