package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// ProbeOp is one operation of a generation to probe: its method, its full
// path (the API's base path and the operation's), and what the decision
// core prepared of it.
type ProbeOp struct {
	Method string
	Path   string
	Op     *pipeline.OpInput
}

// ProbePolicy evaluates the decision once per operation with an anonymous
// request (no credentials, no headers) before a generation is activated. A
// policy that compiles but fails to evaluate — a builtin error, a conflict
// between rules, a runaway rule hitting the deadline — would answer every
// request with 500; refusing it keeps the previous generation deciding.
// Errors that only some inputs trigger still fail closed per request.
func ProbePolicy(ctx context.Context, eng *bundles.Engine, ops []ProbeOp) error {
	r := &http.Request{Method: http.MethodGet, Host: "probe.invalid", Header: http.Header{}}
	now := time.Now()
	for _, op := range ops {
		r.Method = op.Method
		in := pipeline.Input{RequestID: "probe", Request: r, Path: op.Path, ClientIP: "127.0.0.1", Op: op.Op, Now: now}
		if _, err := eng.Decide(ctx, in.Value()); err != nil && !errors.Is(err, bundles.ErrDeadline) {
			return fmt.Errorf("policy fails on %s %s (anonymous probe): %w", op.Method, op.Path, err)
		}
	}
	return nil
}
