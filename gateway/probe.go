package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// probePolicy evaluates the decision once per operation with an anonymous
// request (no credentials, no headers) before a generation is activated. A
// policy that compiles but fails to evaluate — a builtin error, a conflict
// between rules, a runaway rule hitting the deadline — would answer every
// request with 500; refusing it keeps the previous generation deciding.
// Errors that only some inputs trigger still fail closed per request.
func probePolicy(ctx context.Context, g *Generation, eng *bundles.Engine) error {
	r := &http.Request{Method: http.MethodGet, Host: "probe.invalid", Header: http.Header{}}
	now := time.Now()
	for _, api := range g.APIs {
		for _, o := range api.Operations {
			op, ok := g.ops[o]
			if !ok {
				continue
			}
			r.Method = op.Method
			in := pipeline.Input{RequestID: "probe", Request: r, Path: api.BasePath + op.Path, ClientIP: "127.0.0.1", Op: &op.Input, Now: now}
			if _, err := eng.Decide(ctx, in.Value()); err != nil && !errors.Is(err, bundles.ErrDeadline) {
				return fmt.Errorf("policy fails on %s %s%s (anonymous probe): %w", op.Method, api.BasePath, op.Path, err)
			}
		}
	}
	return nil
}
