package bundles

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
)

// OPA's decision-log policies, which users may define in their bundles:
// data.system.log.mask (JSON pointers to erase, or {"op": "upsert"|"remove",
// "path": ..., "value": ...} objects) and data.system.log.drop (true drops
// the record). Both get the decision-log event as input.
const (
	LogMaskQuery = "data.system.log.mask"
	LogDropQuery = "data.system.log.drop"
	// LogUnmaskQuery is the gateway's own addition: JSON pointers under
	// /input/request/body that decision logs may keep (the body is masked
	// otherwise; bundles/decisionlog/body.go).
	LogUnmaskQuery = "data.system.log.unmask"
)

// prepareLogQueries prepares the mask and drop queries of this engine when
// some bundle defines them; undefined rules cost nothing per record.
func (e *Engine) prepareLogQueries(ctx context.Context, store storage.Store, caps *ast.Capabilities) error {
	prep := func(q string) (*rego.PreparedEvalQuery, error) {
		if len(e.compiler.GetRulesForVirtualDocument(ast.MustParseRef(q))) == 0 {
			return nil, nil
		}
		pq, err := rego.New(
			rego.Query(q),
			rego.Compiler(e.compiler),
			rego.Store(store),
			rego.Capabilities(caps),
			rego.StrictBuiltinErrors(true),
		).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrCompile, q, err)
		}
		return &pq, nil
	}
	var err error
	if e.mask, err = prep(LogMaskQuery); err != nil {
		return err
	}
	if e.drop, err = prep(LogDropQuery); err != nil {
		return err
	}
	e.unmask, err = prep(LogUnmaskQuery)
	return err
}

// LogUnmask evaluates data.system.log.unmask for one decision-log event:
// the pointers it lists that are strings, nil when no bundle defines it.
func (e *Engine) LogUnmask(ctx context.Context, event ast.Value) ([]string, error) {
	if e.unmask == nil {
		return nil, nil
	}
	rs, err := e.evalLog(ctx, e.unmask, event)
	if err != nil || len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, err
	}
	t, ok := rs[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return nil, fmt.Errorf("%w: %s is %T", ErrEval, LogUnmaskQuery, rs[0].Expressions[0].Value)
	}
	var out []string
	switch v := t.Value.(type) {
	case ast.Set:
		v.Foreach(func(x *ast.Term) {
			if s, ok := x.Value.(ast.String); ok {
				out = append(out, string(s))
			}
		})
	case *ast.Array:
		v.Foreach(func(x *ast.Term) {
			if s, ok := x.Value.(ast.String); ok {
				out = append(out, string(s))
			}
		})
	default:
		return nil, fmt.Errorf("%w: %s is %s, not a set of JSON pointers", ErrEval, LogUnmaskQuery, ast.ValueName(t.Value))
	}
	return out, nil
}

// LogMask evaluates data.system.log.mask for one decision-log event; nil
// when no bundle defines it.
func (e *Engine) LogMask(ctx context.Context, event ast.Value) (ast.Value, error) {
	if e.mask == nil {
		return nil, nil
	}
	rs, err := e.evalLog(ctx, e.mask, event)
	if err != nil || len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, err
	}
	t, ok := rs[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return nil, fmt.Errorf("%w: %s is %T", ErrEval, LogMaskQuery, rs[0].Expressions[0].Value)
	}
	return t.Value, nil
}

// LogDrop reports whether data.system.log.drop is true for the event.
func (e *Engine) LogDrop(ctx context.Context, event ast.Value) (bool, error) {
	if e.drop == nil {
		return false, nil
	}
	rs, err := e.evalLog(ctx, e.drop, event)
	if err != nil || len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return false, err
	}
	t, ok := rs[0].Expressions[0].Value.(*ast.Term)
	return ok && t.Value.Compare(ast.Boolean(true)) == 0, nil
}

func (e *Engine) evalLog(ctx context.Context, pq *rego.PreparedEvalQuery, event ast.Value) (rego.ResultSet, error) {
	if e.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
		defer cancel()
	}
	rs, err := pq.Eval(ctx, rego.EvalParsedInput(event), evalAsTerm, evalNoMetrics)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEval, err)
	}
	return rs, nil
}
