package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/gateway/edge"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
	"github.com/gatehouse/gatehouse/internal/spans"
)

// forward is what the pipeline decided for one allowed request; Rewrite
// applies it to the outbound request after ReverseProxy has removed hop-by-hop
// headers, so nothing a client names in Connection can drop what we add.
type forward struct {
	op   *pipeline.Op
	path string // the normalized path that was authorized, relative to the base path
	// up is what the request becomes upstream (gateway/pipeline/upstream.go).
	up *pipeline.Upstream
	// strip, when set, removes identity headers again: the API-key header
	// names spared until authentication (gateway/edge/headers.go).
	strip *edge.HeaderStripper
	// trace, with tracing on, holds the upstream call's span: its
	// traceparent replaces the client's.
	trace context.Context
}

// serveProxy forwards an allowed request. One ReverseProxy value per request
// is two small allocations and lets Rewrite close over the decision without
// copying the request into a new context.
func serveProxy(w http.ResponseWriter, r *http.Request, f *forward, t http.RoundTripper, eh func(http.ResponseWriter, *http.Request, error)) {
	up := f.op.API.Upstream
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
			if len(f.up.RemoveQuery) > 0 {
				out.URL.RawQuery = authn.RemoveQueryParams(out.URL.RawQuery, f.up.RemoveQuery)
			}
			out.URL.ForceQuery = false
			h := out.Header
			if f.strip != nil {
				f.strip.Strip(h, nil)
			}
			pr.SetXForwarded()
			if host := validatedHost(pr.In); host != "" {
				h.Set("X-Forwarded-Host", host)
			} else {
				h.Del("X-Forwarded-Host")
			}
			for _, name := range f.up.Remove {
				h.Del(name)
			}
			if len(f.up.RemoveCookies) > 0 {
				stripCookies(h, f.up.RemoveCookies)
			}
			for _, x := range f.up.Set {
				h.Set(x.Name, x.Value)
			}
			if f.trace != nil {
				spans.Inject(f.trace, h)
			}
			if f.up.Assertion != "" {
				h.Set(f.up.AssertionHeader, f.up.Assertion)
			}
		},
	}
	p.ServeHTTP(w, r)
}

// validatedHost is the host the client reached, as far as the gateway can
// vouch for it: the TLS server name (SNI), with the Host header's port when
// Host names that same server. A Host the client chose on its own (plain
// HTTP, no SNI, or another name than the SNI) is never passed on as
// X-Forwarded-Host: upstreams build absolute URLs (redirects, password reset
// links) from it.
func validatedHost(r *http.Request) string {
	if r.TLS == nil || r.TLS.ServerName == "" {
		return ""
	}
	sni := strings.ToLower(r.TLS.ServerName)
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil || !strings.EqualFold(host, sni) || port == "" || strings.Trim(port, "0123456789") != "" {
		return sni
	}
	return sni + ":" + port
}

// stripCookies removes the named cookies and keeps the others.
func stripCookies(h http.Header, names []string) {
	vals := h.Values("Cookie")
	if len(vals) == 0 {
		return
	}
	var kept []string
	for _, line := range vals {
		for _, part := range strings.Split(line, ";") {
			p := strings.TrimSpace(part)
			if p == "" {
				continue
			}
			name := p
			if i := strings.IndexByte(p, '='); i >= 0 {
				name = p[:i]
			}
			drop := false
			for _, n := range names {
				if name == n {
					drop = true
					break
				}
			}
			if !drop {
				kept = append(kept, p)
			}
		}
	}
	h.Del("Cookie")
	if len(kept) > 0 {
		h.Set("Cookie", strings.Join(kept, "; "))
	}
}

// bufferPool reuses proxy copy buffers across requests.
var bufferPool = &bytesPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}

type bytesPool struct{ p sync.Pool }

func (b *bytesPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bytesPool) Put(v []byte) { b.p.Put(&v) }

// transports keeps one tuned transport per upstream (scheme, host, timeout),
// shared across generations so a reload keeps warm connections.
type transports struct {
	mu sync.Mutex
	m  map[string]*http.Transport
}

func newTransports() *transports { return &transports{m: map[string]*http.Transport{}} }

func (t *transports) get(cfg *Config, api *API) (*http.Transport, error) {
	key := fmt.Sprintf("%s|%s|%v|%d|%v|%v|%s", api.Upstream.Scheme, api.Upstream.Host, api.UpstreamTimeout,
		cfg.Upstream.MaxIdleConnsPerHost, cfg.Upstream.DialTimeout, cfg.Upstream.IdleConnTimeout, strings.Join(resolveAll(cfg, cfg.Upstream.CAFiles), ","))
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr, ok := t.m[key]; ok {
		return tr, nil
	}
	u := cfg.Upstream
	dialer := &net.Dialer{Timeout: u.DialTimeout.D(), KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                  nil, // never route upstream traffic through environment proxies
		DialContext:            dialer.DialContext,
		MaxIdleConns:           0,
		MaxIdleConnsPerHost:    u.MaxIdleConnsPerHost,
		IdleConnTimeout:        u.IdleConnTimeout.D(),
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  api.UpstreamTimeout,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true,
		ForceAttemptHTTP2:      true,
		MaxResponseHeaderBytes: 1 << 20,
	}
	if len(u.CAFiles) > 0 {
		pool, err := loadCAPool(cfg, u.CAFiles)
		if err != nil {
			return nil, fmt.Errorf("upstream ca_files: %w", err)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	t.m[key] = tr
	return tr, nil
}

// proxyErrorHandler maps upstream failures to 502/504 problems.
func (s *Server) proxyErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadGateway
	var ne net.Error
	var tooLarge *http.MaxBytesError
	if chunkedBodyRejected(r) {
		// The upstream request was aborted mid-body; the connection
		// closes after this answer.
		w.Header().Set("Connection", "close")
		pipeline.WriteProblem(w, http.StatusBadRequest, "", requestIDFrom(w))
		s.log.Warn("request body framing refused", "request_id", requestIDFrom(w))
		return
	}
	if errors.As(err, &tooLarge) {
		status = http.StatusRequestEntityTooLarge
	} else if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		status = http.StatusGatewayTimeout
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; nothing useful to answer.
		status = 499
	}
	s.log.Warn("upstream failed", "request_id", r.Header.Get("X-Request-Id"), "error", err.Error(), "status", status)
	if status == 499 {
		return
	}
	pipeline.WriteProblem(w, status, "", requestIDFrom(w))
}
