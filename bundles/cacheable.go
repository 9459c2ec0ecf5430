package bundles

import (
	"fmt"
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"
)

// A decision is cacheable when the compiled policy reads nothing of the input
// but the parts the gateway can key a cache on — the operation (with its api
// and schemes), the verified credentials, the rejections, and the client
// certificate — and calls no nondeterministic builtin (time, randomness).
// Bundle data is fixed for the life of an Engine, so such a decision can be
// cached keyed by exactly the inputs the policy reads (gateway/pipeline/cache.go).
//
// The analysis is conservative: any other use of `input` (input.request.headers,
// input.time, input as a whole value, a variable key) makes the engine
// uncacheable, and the gateway then evaluates every request.

var systemRef = ast.MustParseRef("data.system")

// cacheableInputs are the input paths a cache key covers.
var cacheableInputs = [][]string{
	{"operation"}, {"api"}, {"schemes"}, {"credentials"}, {"rejections"},
	{"request", "client_certificate"},
}

// cacheability reports whether decisions depend only on cacheable inputs, and
// if not, the first reason found (for logs).
func cacheability(c *ast.Compiler) (bool, string) {
	names := make([]string, 0, len(c.Modules))
	for n := range c.Modules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := c.Modules[n]
		// data.system.* (decision-log masking and dropping) is evaluated by
		// the decision logger, never by the decision query.
		if m.Package.Path.HasPrefix(systemRef) {
			continue
		}
		if ok, why := moduleCacheable(m); !ok {
			return false, n + ": " + why
		}
	}
	return true, ""
}

func moduleCacheable(m *ast.Module) (bool, string) {
	inputs, covered := 0, 0
	ast.WalkVars(m, func(v ast.Var) bool {
		if v.Equal(ast.InputRootDocument.Value) {
			inputs++
		}
		return false
	})
	var uncovered string
	ast.WalkRefs(m, func(r ast.Ref) bool {
		if r[0].Value.Compare(ast.InputRootDocument.Value) != 0 {
			return false
		}
		if refCovered(r) {
			covered++
		} else if uncovered == "" {
			uncovered = r.String()
		}
		return false
	})
	if inputs != covered {
		if uncovered == "" {
			uncovered = "input used as a whole value"
		}
		return false, "reads " + uncovered
	}
	var nondet string
	check := func(op ast.Ref) {
		if b, ok := ast.BuiltinMap[op.String()]; ok && b.Nondeterministic && nondet == "" {
			nondet = op.String()
		}
	}
	ast.WalkTerms(m, func(t *ast.Term) bool {
		if call, ok := t.Value.(ast.Call); ok {
			if op, ok := call[0].Value.(ast.Ref); ok {
				check(op)
			}
		}
		return false
	})
	ast.WalkExprs(m, func(e *ast.Expr) bool {
		if e.IsCall() {
			check(e.Operator())
		}
		return false
	})
	if nondet != "" {
		return false, fmt.Sprintf("calls nondeterministic builtin %s", nondet)
	}
	return true, ""
}

// refCovered reports whether an input ref starts with one of cacheableInputs.
func refCovered(r ast.Ref) bool {
next:
	for _, path := range cacheableInputs {
		if len(r) < len(path)+1 {
			continue
		}
		for i, p := range path {
			s, ok := r[i+1].Value.(ast.String)
			if !ok || string(s) != p {
				continue next
			}
		}
		return true
	}
	return false
}
