package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/edge"
)

// The public TLS listener terminates TLS itself, before net/http, so that
// HTTP/1 connections can be inspected in plaintext (gateway/edge/framing.go): after the
// handshake, a connection that negotiated h2 goes to a server that speaks
// HTTP/2 (whose binary framing has none of HTTP/1's ambiguities), any other
// to a server that speaks HTTP/1 over an edge.H1Conn. Both share the handler and
// every limit; the handler gets Request.TLS from the connection either way.

// tlsDispatcher accepts connections, runs TLS handshakes with a deadline,
// and hands each connection to the queue of its protocol.
type tlsDispatcher struct {
	ln      net.Listener
	cfg     *tls.Config
	timeout time.Duration
	// h2Limits bound the frames of HTTP/2 clients; flood counts the
	// connections closed for breaking them (gateway/edge/h2conn.go).
	h2Limits edge.H2Limits
	flood    func(reason string)
	h1, h2   *connQueue
	reject   func(reason string)
	done     chan struct{}
	once     sync.Once
}

func newTLSDispatcher(ln net.Listener, cfg *tls.Config, timeout time.Duration, reject func(string)) *tlsDispatcher {
	d := &tlsDispatcher{ln: ln, cfg: cfg, timeout: timeout, reject: reject, done: make(chan struct{}), h2Limits: edge.DefaultH2Limits(0)}
	d.h1 = &connQueue{d: d, ch: make(chan net.Conn)}
	d.h2 = &connQueue{d: d, ch: make(chan net.Conn)}
	go d.run()
	return d
}

func (d *tlsDispatcher) close() error {
	var err error
	d.once.Do(func() {
		close(d.done)
		err = d.ln.Close()
	})
	return err
}

// run is the accept loop; it backs off on temporary errors (EMFILE) as
// net/http does.
func (d *tlsDispatcher) run() {
	var delay time.Duration
	for {
		c, err := d.ln.Accept()
		if err != nil {
			select {
			case <-d.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				_ = d.close()
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		delay = 0
		go d.handshake(c)
	}
}

// handshake completes TLS within the header timeout (a client that never
// finishes it is a slowloris too) and routes the connection by ALPN.
func (d *tlsDispatcher) handshake(c net.Conn) {
	tc := tls.Server(c, d.cfg)
	if d.timeout > 0 {
		_ = c.SetDeadline(time.Now().Add(d.timeout))
	}
	if err := tc.HandshakeContext(context.Background()); err != nil {
		_ = c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	if st.NegotiatedProtocol == "h2" {
		d.h2.put(edge.NewH2Conn(tc, &st, d.h2Limits, d.flood))
		return
	}
	d.h1.put(edge.NewH1Conn(tc, &st, d.reject))
}

// connQueue is a net.Listener fed by the dispatcher.
type connQueue struct {
	d  *tlsDispatcher
	ch chan net.Conn
}

func (q *connQueue) put(c net.Conn) {
	select {
	case q.ch <- c:
	case <-q.d.done:
		_ = c.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.d.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error   { return q.d.close() }
func (q *connQueue) Addr() net.Addr { return q.d.ln.Addr() }

// h1Listener wraps the plain listener's connections for inspection.
type h1Listener struct {
	net.Listener
	reject func(string)
}

func (l h1Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return edge.NewH1Conn(c, nil, l.reject), nil
}

// connKey carries the connection of a request (an edge.H1Conn or
// edge.H2Conn) in its context.
type connKey struct{}

// tlsStater is a connection whose TLS the gateway ended itself, so net/http
// cannot see it: edge.H1Conn and edge.H2Conn.
type tlsStater interface {
	TLSState() *tls.ConnectionState
}

// h1Server makes srv an HTTP/1-only server over h1Conns: no HTTP/2 (TLS
// connections that negotiated it went elsewhere; h2c is never spoken), and
// the TLS state of the connection in every request.
func (s *Server) h1Server(srv *http.Server) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	return s.overEdgeConns(srv, &p)
}

// h2Server makes srv an HTTP/2 server over edge.H2Conns. They are not
// *tls.Conn (TLS ended in the dispatcher), so net/http serves them as
// HTTP/2 with prior knowledge, the one protocol this server speaks; every
// HTTP/2 setting and limit is the same. The handler gets Request.TLS from
// the connection.
func (s *Server) h2Server(srv *http.Server) *http.Server {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return s.overEdgeConns(srv, &p)
}

// overEdgeConns makes srv speak only p and give every request the TLS
// state of its connection.
func (s *Server) overEdgeConns(srv *http.Server, p *http.Protocols) *http.Server {
	srv.Protocols = p
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if _, ok := c.(tlsStater); ok {
			return context.WithValue(ctx, connKey{}, c)
		}
		return ctx
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := r.Context().Value(connKey{}).(tlsStater); ok && r.TLS == nil {
			r.TLS = h.TLSState()
		}
		s.ServeHTTP(w, r)
	})
	return srv
}

// serveTLS serves the public TLS listener through a dispatcher: HTTP/2
// connections to one server, inspected HTTP/1 connections to another.
func (s *Server) serveTLS(cfg *config.Config, ln net.Listener, reject, flood func(string)) {
	tc := s.tlsConfig(cfg)
	tc.NextProtos = []string{"h2", "http/1.1"}
	d := newTLSDispatcher(ln, tc, tlsHandshakeTimeout(cfg.Listen), reject)
	d.h2Limits, d.flood = edge.DefaultH2Limits(cfg.Listen.MaxHeaderBytes), flood
	s.serve(s.h2Server(s.publicServer(cfg)), d.h2, false)
	s.serve(s.h1Server(s.publicServer(cfg)), d.h1, false)
}

// tlsHandshakeTimeout is net/http's: the smallest positive of the header,
// read and write timeouts.
func tlsHandshakeTimeout(l config.ListenConfig) time.Duration {
	var t time.Duration
	for _, d := range []time.Duration{l.ReadHeaderTimeout.D(), l.ReadTimeout.D(), l.WriteTimeout.D()} {
		if d > 0 && (t == 0 || d < t) {
			t = d
		}
	}
	return t
}

// newH2Flood counts HTTP/2 connections closed for a flood, by reason.
func newH2Flood(reg *prometheus.Registry) func(string) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_http2_flood_closed_total",
		Help: "HTTP/2 connections closed with GOAWAY ENHANCE_YOUR_CALM: continuation_per_block, continuation_rate (CONTINUATION flood), reset_rate (rapid reset).",
	}, []string{"reason"})
	reg.MustRegister(c)
	return func(reason string) { c.WithLabelValues(reason).Inc() }
}

// framingRejected counts HTTP/1 heads refused by edge.H1Conn, by reason.
func newFramingRejected(reg *prometheus.Registry) func(string) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_http1_framing_rejected_total",
		Help: "HTTP/1 requests refused with 400 for framing net/http would accept: bare_lf, obs_fold, content_length_with_transfer_encoding, transfer_encoding_in_http10, and in chunked bodies bare_lf_in_chunked_body, bare_cr_in_chunked_body, bad_chunk_end, bad_chunk_size.",
	}, []string{"reason"})
	reg.MustRegister(c)
	return func(reason string) { c.WithLabelValues(reason).Inc() }
}

// chunkedBodyRejected reports whether the request's chunked body broke the
// framing rules (framing.go): the proxy then answers 400, not 502.
func chunkedBodyRejected(r *http.Request) bool {
	h, ok := r.Context().Value(connKey{}).(*edge.H1Conn)
	return ok && h.BodyRejected()
}
