package pipeline

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/assertion"
	"github.com/gatehouse/gatehouse/gateway/edge"
	"github.com/gatehouse/gatehouse/gateway/ratelimit"
)

// Core is what one generation compiled for deciding requests: its APIs and
// routes, the prepared policy, the caches and the assertion signer. It is
// built with the generation (gateway/generation.go) and never changes
// after; Evaluate (evaluate.go) is the one function every front door
// calls.
type Core struct {
	APIs   []*API
	Routes *Routes
	Engine *bundles.Engine
	// Decisions caches policy decisions when the policy allows it (nil
	// otherwise).
	Decisions *Cache
	// Assertions caches signed identity assertions for the generation's
	// operations (gateway/assertion).
	Assertions *assertion.Cache
	// Asserter signs the identity assertion (nil: upstream_identity is
	// off); its key is read with the generation, so a reload rotates it.
	Asserter *assertion.Signer
	// AssertionHeader is upstream_identity.header (set even when the
	// assertion is off: the policy may never set it); XFCCHeader is
	// mtls.upstream_header ("": none).
	AssertionHeader, XFCCHeader string
	// Forwarded accepts client certificates from trusted proxies (nil: off).
	Forwarded *ForwardedCerts
	// Rate is the generation's rate limiting (nil: none; gateway/ratelimit).
	Rate *ratelimit.Limits
	// Headers removes client-sent identity headers (gateway/edge); until
	// authentication it spares CredHeaders, the API-key header names.
	Headers     *edge.HeaderStripper
	CredHeaders map[string]struct{}
	// Limits are the body, header and token limits (gateway/edge/config.go).
	Limits *edge.LimitsConfig
}

// The core's part of the edge defences (gateway/edge): the checks that need
// the generation's APIs and routes.

// escapesBase reports whether a ".." left the path above the base path of
// the API that serves it (edge's normalization rule 5). The API is the one
// with the longest base path that is a segment prefix of the normalized
// path.
func (c *Core) escapesBase(path string, depth int) bool {
	if depth >= 1<<30 {
		return false
	}
	best := -1
	for _, a := range c.APIs {
		bp := a.BasePath
		if strings.HasPrefix(path, bp) && (len(path) == len(bp) || path[len(bp)] == '/') {
			best = max(best, edge.BaseDepth(bp))
		}
	}
	return depth < best
}

// corsAPI is the API whose base path serves path (longest first), if it has
// a CORS policy.
func (c *Core) corsAPI(path string) *API {
	var best *API
	for _, a := range c.APIs {
		bp := a.BasePath
		if a.CORS != nil && strings.HasPrefix(path, bp) && (len(path) == len(bp) || path[len(bp)] == '/') &&
			(best == nil || len(bp) > len(best.BasePath)) {
			best = a
		}
	}
	return best
}

// preflight answers a preflight for api: the headers of a 204, or nil for
// a 403.
func (c *Core) preflight(r *http.Request, api *API) http.Header {
	return api.CORS.Preflight(r, func(method string) bool {
		probe := r.Clone(r.Context())
		probe.Method = method
		op, err := c.Routes.Match(probe)
		return err == nil && op.API == api
	})
}

// checkLimits answers requests that are too big before any authenticator
// runs (edge.CheckLimits).
func (c *Core) checkLimits(r *http.Request, op *Op) (int, string) {
	return edge.CheckLimits(r, c.Limits.BodyLimit(op.API.Config.MaxBodyBytes), op.Public, op.secretHeaders, c.Limits.MaxTokenBytes)
}
