// Package proxy is the reverse proxy, the front door that forwards an
// allowed request itself: it applies what the decision core decided the
// request becomes upstream (pipeline.Upstream) to the outbound request and
// streams the upstream's answer back. It decides nothing: the request
// reaches it only after gateway/pipeline allowed it.
package proxy

import (
	"context"
	"net/http"
	"net/http/httputil"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/gateway/edge"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
	"github.com/gatehouse/gatehouse/internal/spans"
)

// Proxy forwards allowed requests; one serves every generation.
type Proxy struct {
	// Log gets one line per failed upstream call (never a header value).
	Log hclog.Logger
	// RequestID is the request id of the answer being written (for the
	// problem document of a failed call).
	RequestID func(http.ResponseWriter) string
	// BodyRejected reports whether the request's chunked body broke the
	// framing rules (gateway/edge/framing.go): the answer is then 400, not
	// 502.
	BodyRejected func(*http.Request) bool
}

// Request is one allowed request as the decision core left it.
type Request struct {
	Op *pipeline.Op
	// Upstream is what the request becomes upstream (Evaluation.Upstream).
	Upstream *pipeline.Upstream
	// Strip, when set, removes identity headers again: the API-key header
	// names spared until authentication (gateway/edge/headers.go).
	Strip *edge.HeaderStripper
	// BodyLimit is the most of the body forwarded (413 above it).
	BodyLimit int64
	// Trace, with tracing on, holds the upstream call's span: its
	// traceparent replaces the client's.
	Trace context.Context
	// path is the normalized path that was authorized, relative to the
	// base path.
	path string
}

// Forward sends r to the upstream of its operation and copies the answer
// to w. The path forwarded is the normalized path that was authorized,
// relative to the API's base path.
func (p *Proxy) Forward(w http.ResponseWriter, r *http.Request, f *Request) {
	op := f.Op
	f.path = strings.TrimPrefix(r.URL.Path, op.API.BasePath)
	if f.path == "" {
		f.path = "/"
	}
	edge.LimitBody(w, r, f.BodyLimit)
	edge.FilterUpgrade(r, op.API.Config.WebSockets)
	serve(w, r, f, op.API.Transport, p.errorHandler)
}

// serve forwards an allowed request. One ReverseProxy value per request
// is two small allocations and lets Rewrite close over the decision without
// copying the request into a new context. Rewrite applies the decision to
// the outbound request after ReverseProxy has removed hop-by-hop headers,
// so nothing a client names in Connection can drop what we add.
func serve(w http.ResponseWriter, r *http.Request, f *Request, t http.RoundTripper, eh func(http.ResponseWriter, *http.Request, error)) {
	up := f.Op.API.Upstream
	p := &httputil.ReverseProxy{
		Transport:    t,
		ErrorHandler: eh,
		BufferPool:   bufferPool,
		Rewrite: func(pr *httputil.ProxyRequest) {
			out := pr.Out
			out.URL.Scheme = up.Scheme
			out.URL.Host = up.Host
			out.URL.Path = up.Path + f.path
			out.URL.RawPath = ""
			out.Host = ""
			if len(f.Upstream.RemoveQuery) > 0 {
				out.URL.RawQuery = authn.RemoveQueryParams(out.URL.RawQuery, f.Upstream.RemoveQuery)
			}
			out.URL.ForceQuery = false
			h := out.Header
			if f.Strip != nil {
				f.Strip.Strip(h, nil)
			}
			pr.SetXForwarded()
			if host := validatedHost(pr.In); host != "" {
				h.Set("X-Forwarded-Host", host)
			} else {
				h.Del("X-Forwarded-Host")
			}
			for _, name := range f.Upstream.Remove {
				h.Del(name)
			}
			if len(f.Upstream.RemoveCookies) > 0 {
				pipeline.StripCookies(h, f.Upstream.RemoveCookies)
			}
			for _, x := range f.Upstream.Set {
				h.Set(x.Name, x.Value)
			}
			if f.Trace != nil {
				spans.Inject(f.Trace, h)
			}
			if f.Upstream.Assertion != "" {
				h.Set(f.Upstream.AssertionHeader, f.Upstream.Assertion)
			}
		},
	}
	p.ServeHTTP(w, r)
}
