package bundles

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
)

// planSet is the plan modules of one engine and which operation uses which.
type planSet struct {
	modules map[string]*ast.Module // by module name "plan:p<i>"
	refs    []ast.Ref              // decision rule of p<i>
	ofOp    []int                  // Options.Operations[i] → index in refs, or -1
}

// buildPlans writes and parses the plans of ops; operations of the same
// shape share one. nil when there are none.
func buildPlans(ops []Operation, modules map[string]*ast.Module, data map[string]any, caps *ast.Capabilities) *planSet {
	if len(ops) == 0 {
		return nil
	}
	pc := newPlanContext(modules, data)
	if pc == nil {
		return nil
	}
	ps := &planSet{modules: map[string]*ast.Module{}, ofOp: make([]int, len(ops))}
	bySource := map[string]int{}
	const placeholder = planPackage + ".p"
	for i, op := range ops {
		ps.ofOp[i] = -1
		shape, ok := shapeOf(op)
		if !ok {
			continue
		}
		src := pc.planSource(placeholder, shape)
		if src == "" {
			continue
		}
		if n, ok := bySource[src]; ok {
			ps.ofOp[i] = n
			continue
		}
		n := len(ps.refs)
		pkg := fmt.Sprintf("%s.p%d", planPackage, n)
		name := fmt.Sprintf("plan:p%d", n)
		m, err := ast.ParseModuleWithOpts(name, strings.Replace(src, placeholder, pkg, 1),
			ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: caps})
		if err != nil {
			continue // a scheme name Rego cannot quote: the full query serves
		}
		bySource[src] = n
		ps.modules[name] = m
		ps.refs = append(ps.refs, ast.MustParseRef("data."+pkg+".decision"))
		ps.ofOp[i] = n
	}
	if len(ps.refs) == 0 {
		return nil
	}
	shared, err := ast.ParseModuleWithOpts("plan:shared", pc.sharedSource(), ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: caps})
	if err != nil {
		return nil
	}
	ps.modules["plan:shared"] = shared
	return ps
}

// compileWithPlans compiles modules with the plan modules. Plans are written
// by this package, never by users: should they fail to compile, the engine is
// built without them (every operation on the full query) rather than refused.
func compileWithPlans(modules map[string]*ast.Module, plans *planSet, caps *ast.Capabilities) *ast.Compiler {
	newCompiler := func() *ast.Compiler {
		return ast.NewCompiler().WithCapabilities(caps).WithEnablePrintStatements(false)
	}
	if plans != nil {
		all := maps.Clone(modules)
		maps.Copy(all, plans.modules)
		c := newCompiler()
		c.Compile(all)
		if !c.Failed() {
			return c
		}
		plans.refs = nil // preparePlans then gives every operation the full query
	}
	c := newCompiler()
	c.Compile(modules)
	return c
}

// preparePlans prepares one direct query per plan and returns the plan of
// each of the n operations.
func preparePlans(compiler *ast.Compiler, store storage.Store, plans *planSet, n int) ([]*Plan, error) {
	out := make([]*Plan, n)
	if plans == nil || len(plans.refs) == 0 {
		return out, nil
	}
	prepared := make([]*Plan, len(plans.refs))
	for i, ref := range plans.refs {
		q, err := newDirectQuery(compiler, store, ref)
		if err != nil {
			return nil, err
		}
		prepared[i] = &Plan{q: q}
	}
	for i, p := range plans.ofOp {
		if p >= 0 {
			out[i] = prepared[p]
		}
	}
	return out, nil
}

// Plans returns the plan of each of Options.Operations, in order; nil
// entries decide on the full query.
func (e *Engine) Plans() []*Plan { return e.plans }

// DecidePlan is Decide for an operation's input with the operation's plan
// (from Plans of this engine; nil for the full query). Options (explain's
// tracer) always take the full query.
func (e *Engine) DecidePlan(ctx context.Context, p *Plan, input ast.Value) (*Decision, error) {
	if p == nil {
		return e.Decide(ctx, input)
	}
	return e.decideDirect(ctx, p.q, input)
}
