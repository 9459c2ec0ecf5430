package gateway

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/gateway/edge"
)

// The generation's part of the edge defences (gateway/edge): the checks
// that need its APIs and routes.

// escapesBase reports whether a ".." left the path above the base path of
// the API that serves it (edge's normalization rule 5). The API is the one
// with the longest base path that is a segment prefix of the normalized
// path.
func (g *Generation) escapesBase(path string, depth int) bool {
	if depth >= 1<<30 {
		return false
	}
	best := -1
	for _, a := range g.APIs {
		bp := a.BasePath
		if strings.HasPrefix(path, bp) && (len(path) == len(bp) || path[len(bp)] == '/') {
			best = max(best, edge.BaseDepth(bp))
		}
	}
	return depth < best
}

// corsAPI is the API whose base path serves path (longest first), if it has
// a CORS policy.
func (g *Generation) corsAPI(path string) *compiledAPI {
	var best *compiledAPI
	for _, a := range g.APIs {
		bp := a.BasePath
		if a.cors != nil && strings.HasPrefix(path, bp) && (len(path) == len(bp) || path[len(bp)] == '/') &&
			(best == nil || len(bp) > len(best.BasePath)) {
			best = a
		}
	}
	return best
}

// preflight answers a preflight for api: the headers of a 204, or nil for
// a 403.
func (g *Generation) preflight(r *http.Request, api *compiledAPI) http.Header {
	return api.cors.Preflight(r, func(method string) bool {
		probe := r.Clone(r.Context())
		probe.Method = method
		op, err := g.match(probe)
		return err == nil && op.api == api
	})
}

// checkLimits answers requests that are too big before any authenticator
// runs (edge.CheckLimits).
func (g *Generation) checkLimits(r *http.Request, op *compiledOp) (int, string) {
	return edge.CheckLimits(r, g.Config.Limits.BodyLimit(op.api.Config.MaxBodyBytes), op.Public, op.secretHeaders, g.Config.Limits.MaxTokenBytes)
}
