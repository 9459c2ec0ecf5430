package gateway

import (
	"context"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/health"
)

// probePolicy runs health.ProbePolicy on every operation of g, in the
// order of its APIs, before g is activated.
func probePolicy(ctx context.Context, g *Generation, eng *bundles.Engine) error {
	var ops []health.ProbeOp
	for _, api := range g.APIs {
		for _, o := range api.Operations {
			if op, ok := g.ops[o]; ok {
				ops = append(ops, health.ProbeOp{Method: op.Method, Path: api.BasePath + op.Path, Op: &op.Input})
			}
		}
	}
	return health.ProbePolicy(ctx, eng, ops)
}
