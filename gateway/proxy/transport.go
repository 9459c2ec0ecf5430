package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/gateway/pipeline"
	"github.com/gatehouse/gatehouse/internal/config"
)

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

// bufferPool reuses proxy copy buffers across requests.
var bufferPool = &bytesPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}

type bytesPool struct{ p sync.Pool }

func (b *bytesPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bytesPool) Put(v []byte) { b.p.Put(&v) }

// Endpoint is how one API's upstream is reached: its address and the
// `upstream` section of the config.
type Endpoint struct {
	Scheme, Host string
	// ResponseTimeout is the API's upstream_timeout.
	ResponseTimeout     time.Duration
	MaxIdleConnsPerHost int
	DialTimeout         time.Duration
	IdleConnTimeout     time.Duration
	// CAFiles are the CA files the upstream's certificate is verified
	// with (none: the system's), relative to Dir, the config's directory.
	CAFiles []string
	Dir     string
}

// Transports keeps one tuned transport per upstream (scheme, host,
// timeouts, CA files), shared across generations so a reload keeps warm
// connections.
type Transports struct {
	mu sync.Mutex
	m  map[string]*http.Transport
}

// NewTransports returns an empty set of transports.
func NewTransports() *Transports { return &Transports{m: map[string]*http.Transport{}} }

// Get returns the transport of u, made on first use.
func (t *Transports) Get(u Endpoint) (*http.Transport, error) {
	cas := make([]string, len(u.CAFiles))
	for i, f := range u.CAFiles {
		cas[i] = config.ResolvePath(u.Dir, f)
	}
	key := fmt.Sprintf("%s|%s|%v|%d|%v|%v|%s", u.Scheme, u.Host, u.ResponseTimeout,
		u.MaxIdleConnsPerHost, u.DialTimeout, u.IdleConnTimeout, strings.Join(cas, ","))
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr, ok := t.m[key]; ok {
		return tr, nil
	}
	dialer := &net.Dialer{Timeout: u.DialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                  nil, // never route upstream traffic through environment proxies
		DialContext:            dialer.DialContext,
		MaxIdleConns:           0,
		MaxIdleConnsPerHost:    u.MaxIdleConnsPerHost,
		IdleConnTimeout:        u.IdleConnTimeout,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  u.ResponseTimeout,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true,
		ForceAttemptHTTP2:      true,
		MaxResponseHeaderBytes: 1 << 20,
	}
	if len(u.CAFiles) > 0 {
		pool, err := config.LoadCAPool(u.Dir, u.CAFiles)
		if err != nil {
			return nil, fmt.Errorf("upstream ca_files: %w", err)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	t.m[key] = tr
	return tr, nil
}

// errorHandler maps upstream failures to 502/504 problems.
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadGateway
	var ne net.Error
	var tooLarge *http.MaxBytesError
	if p.BodyRejected != nil && p.BodyRejected(r) {
		// The upstream request was aborted mid-body; the connection
		// closes after this answer.
		w.Header().Set("Connection", "close")
		pipeline.WriteProblem(w, http.StatusBadRequest, "", p.RequestID(w))
		p.Log.Warn("request body framing refused", "request_id", p.RequestID(w))
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
	p.Log.Warn("upstream failed", "request_id", r.Header.Get("X-Request-Id"), "error", err.Error(), "status", status)
	if status == 499 {
		return
	}
	pipeline.WriteProblem(w, status, "", p.RequestID(w))
}
