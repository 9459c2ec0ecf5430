package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/keymanager"
	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/bundles/decisionlog"
	"github.com/gatehouse/gatehouse/gateway/assertion"
	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/gateway/buildinfo"
	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/edge"
	"github.com/gatehouse/gatehouse/gateway/health"
	"github.com/gatehouse/gatehouse/gateway/metrics"
	"github.com/gatehouse/gatehouse/gateway/proxy"
	"github.com/gatehouse/gatehouse/gateway/ratelimit"
	"github.com/gatehouse/gatehouse/gateway/tracing"
	"github.com/gatehouse/gatehouse/internal/redisconn"
)

// Server is a running gateway: listeners, the current generation, and the
// process-wide pieces that outlive a reload (metrics, upstream connection
// pools, the assertion signing key). Generations are built and swapped by
// the one reload path (reload.go).
type Server struct {
	cfgPath string
	log     hclog.Logger
	// rejectLog ("authn") logs why each presented credential was refused.
	rejectLog hclog.Logger
	// manageRuntime: Options.ManageRuntime.
	manageRuntime bool
	audit         hclog.Logger
	// auditFast, when set, writes the audit lines instead of audit.
	auditFast *audit.Log

	instanceID string // instance.go
	// draining is set by Drain (drain.go); storeProbe and dpopProbe cache /readyz's
	// Redis pings (gateway/health).
	draining   atomic.Bool
	storeProbe health.PingProbe
	dpopProbe  health.PingProbe

	gen     atomic.Pointer[Generation]
	metrics *metrics.Metrics
	// assertionKeys and published outlive generations: the assertion key
	// generated without a key file, and the key set upstreams verify with,
	// which keeps a replaced key for its overlap (gateway/assertion).
	assertionKeys assertion.Generated
	published     assertion.Published
	transports    *proxy.Transports
	proxy         *proxy.Proxy
	tls           tlsState        // TLS file watching and metrics (server_tls.go)
	remote        *bundles.Remote // nil without policy.remote
	remoteCfg     []byte          // processWide(config) at start, to notice changes
	decisions     *decisionlog.Logger
	keySources    *authn.KeySources
	kmStores      *keymanager.Stores // the internal key manager's token stores
	dpopReplays   *dpopReplays
	rateStores    *ratelimit.Stores
	// tracing and tracer: the tracer provider of the tracing section;
	// both nil with tracing off (server_tracing.go).
	tracing *tracing.Provider
	tracer  trace.Tracer

	reloadMu   sync.Mutex
	lastReload atomic.Pointer[reloadStatus]

	AdminMux *http.ServeMux

	mu        sync.Mutex
	watcher   *bundles.Watcher
	servers   []*http.Server
	listeners []net.Listener
	addr      net.Addr
	plainAddr net.Addr
	adminAddr net.Addr
	// apiKeysAddr is the API key endpoint's dedicated listener, if any.
	apiKeysAddr net.Addr
	// keyManagerAddr is the internal key manager's dedicated listener.
	keyManagerAddr net.Addr
	// The front doors for another proxy (listen_frontdoors.go).
	grpcServers     []*grpc.Server
	extAuthzAddr    net.Addr
	forwardAuthAddr net.Addr
}

type reloadStatus struct {
	At    time.Time `json:"at"`
	OK    bool      `json:"ok"`
	Error string    `json:"error,omitempty"`
}

// Options for New.
type Options struct {
	// Logger receives operational logs; the audit log is its "audit" child.
	Logger hclog.Logger
	// AuditOutput, when set, is where the audit lines go, written by the
	// fast audit writer (the same JSON lines hclog would write, at a
	// fraction of the cost). It should be the Logger's own output. Without
	// it, or with text logs, audit lines go through Logger.
	AuditOutput io.Writer
	// ManageRuntime lets the config's runtime section set GOGC and
	// GOMEMLIMIT, and routes the Redis client's log lines to Logger
	// (process-wide, so only `gatehouse run` asks for it).
	ManageRuntime bool
	// Config, when set, is the config already loaded from cfgPath (`run`
	// reads it first for its log settings), so it is parsed once.
	Config *config.Config
}

// New loads the config and builds the first generation. It fails if the
// config or anything it references is invalid: a gateway never starts with a
// configuration it cannot fully honour.
func New(ctx context.Context, cfgPath string, opts Options) (*Server, error) {
	cfg := opts.Config
	if cfg == nil {
		var err error
		if cfg, err = config.Load(cfgPath); err != nil {
			return nil, err
		}
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	s := &Server{
		cfgPath:     cfgPath,
		log:         log,
		metrics:     metrics.New(),
		transports:  proxy.NewTransports(),
		keySources:  authn.NewKeySources(log),
		kmStores:    keymanager.NewStores().WithLog(log.Named("keymanager")),
		dpopReplays: newDPoPReplays(),
		rateStores:  ratelimit.NewStores(log, nil),
		AdminMux:    http.NewServeMux(),
	}
	s.rejectLog = log.Named("authn")
	s.proxy = &proxy.Proxy{Log: log, RequestID: requestIDFrom, BodyRejected: chunkedBodyRejected}
	s.instanceID = newInstanceID(cfg.InstanceID)
	s.manageRuntime = opts.ManageRuntime
	if s.manageRuntime {
		applyRuntime(cfg, log)
		// go-redis has one process-wide logger, plain text on stderr
		// unless routed: its lines join the JSON log stream instead
		redisconn.RouteLogs(log)
	}
	s.metrics.Registry().MustRegister(metrics.JWKSCollector(func() []*authn.RemoteJWKS {
		if g := s.gen.Load(); g != nil {
			return g.jwks
		}
		return nil
	}))
	s.metrics.Registry().MustRegister(s.rateStores.Metrics()...)
	s.metrics.Registry().MustRegister(metrics.KeyManagerCollector(func() map[string]authn.KeyManager {
		if g := s.gen.Load(); g != nil {
			return g.keyManagers
		}
		return nil
	}))
	if *cfg.Log.Audit {
		s.audit = log.Named("audit")
		if opts.AuditOutput != nil && cfg.Log.Format != "text" && s.audit.IsInfo() {
			s.auditFast = audit.New(s.audit.Name(), opts.AuditOutput)
		}
	}
	var err error
	s.remoteCfg = processWide(cfg)
	if cfg.Policy.DecisionLogs != nil {
		bi := buildinfo.Get()
		var services map[string]json.RawMessage
		if cfg.Policy.Remote != nil {
			services = cfg.Policy.Remote.Services
		}
		if s.decisions, err = decisionlog.New(cfg.Policy.DecisionLogs, decisionlog.Options{
			File: cfg.Path, Dir: cfg.Dir, IdentityHeader: cfg.UpstreamIdentity.Header,
			Services: services, Log: log, Metrics: s.metrics.Registry(),
			InstanceID: s.instanceID, Version: bi.Version, OPAVersion: bi.OPA,
		}); err != nil {
			return nil, err
		}
	}
	if err := s.startTracing(ctx, cfg); err != nil {
		s.stopDecisionLogs(ctx)
		return nil, err
	}
	remote, err := s.startRemote(ctx, cfg)
	if err != nil {
		s.stopDecisionLogs(ctx)
		_ = s.stopTracing(ctx)
		return nil, err
	}
	start := time.Now()
	g, err := BuildGeneration(ctx, cfg, s.buildOptions(remote))
	if err != nil {
		s.stopRemote(ctx)
		s.stopDecisionLogs(ctx)
		_ = s.stopTracing(ctx)
		_ = s.kmStores.Close()
		_ = s.dpopReplays.Close()
		return nil, err
	}
	s.swap(g, start) // the first generation goes in like every later one (reload.go)
	s.remoteActivated(remote)
	s.metrics.ReloadOK.Set(1)
	s.lastReload.Store(&reloadStatus{At: time.Now(), OK: true})
	s.routesAdmin()
	return s, nil
}

// Generation returns the generation currently serving requests.
func (s *Server) Generation() *Generation { return s.gen.Load() }

// Start opens the listeners and serves in the background. Addresses ending
// in :0 get a free port; Addr/AdminAddr report what was bound.
func (s *Server) Start() error {
	cfg := s.gen.Load().Config
	l := cfg.Listen
	framingReject := newFramingRejected(s.metrics.Registry())
	if l.TLS != nil {
		ln, err := net.Listen("tcp", l.Address)
		if err != nil {
			return fmt.Errorf("listen %s: %w", l.Address, err)
		}
		s.addr = ln.Addr()
		s.serveTLS(cfg, edge.LimitListener(ln, cfg.Limits.MaxConnections), framingReject, newH2Flood(s.metrics.Registry()))
	}
	if l.HTTPAddress != "" {
		ln, err := net.Listen("tcp", l.HTTPAddress)
		if err != nil {
			s.Close()
			return fmt.Errorf("listen %s: %w", l.HTTPAddress, err)
		}
		s.plainAddr = ln.Addr()
		s.serve(s.h1Server(s.publicServer(cfg)), h1Listener{edge.LimitListener(ln, cfg.Limits.MaxConnections), framingReject}, false)
	}
	s.startTLSWatch()
	if a := *cfg.Admin.Address; a != "" {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			s.Close()
			return fmt.Errorf("listen admin %s: %w", a, err)
		}
		s.adminAddr = ln.Addr()
		s.serve(&http.Server{
			Handler:           s.AdminMux,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
			ErrorLog:          s.log.Named("admin").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
		}, ln, false)
	}
	if err := s.startAPIKeyListener(cfg); err != nil {
		s.Close()
		return err
	}
	if err := s.startKeyManagerListener(cfg); err != nil {
		s.Close()
		return err
	}
	if err := s.startFrontDoors(cfg); err != nil {
		s.Close()
		return err
	}
	return nil
}

func (s *Server) publicServer(cfg *config.Config) *http.Server {
	l := cfg.Listen
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: l.ReadHeaderTimeout.D(),
		ReadTimeout:       l.ReadTimeout.D(),
		WriteTimeout:      l.WriteTimeout.D(),
		IdleTimeout:       l.IdleTimeout.D(),
		MaxHeaderBytes:    l.MaxHeaderBytes,
		// `OPTIONS *` reaches the pipeline, which refuses every
		// asterisk-form target (normalize.go), instead of net/http's 200.
		DisableGeneralOptionsHandler: true,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: l.MaxConcurrentStreams,
		},
		ErrorLog: s.log.Named("http").StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
	}
	return srv
}

func (s *Server) serve(srv *http.Server, ln net.Listener, useTLS bool) {
	s.mu.Lock()
	s.servers = append(s.servers, srv)
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	go func() {
		var err error
		if useTLS {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		// net.ErrClosed: a listener two servers share (listener.go) closed first.
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Error("listener stopped", "address", ln.Addr().String(), "error", err.Error())
		}
	}()
}

// tlsConfig: TLS 1.2+ with AEAD suites only; the client certificate is
// requested but not required at the handshake — per-API trust is checked after
// routing, so one listener serves APIs with and without mTLS.
func (s *Server) tlsConfig(cfg *config.Config) *tls.Config {
	min := uint16(tls.VersionTLS12)
	if cfg.Listen.TLS.MinVersion == "1.3" {
		min = tls.VersionTLS13
	}
	return &tls.Config{
		MinVersion:     min,
		GetCertificate: s.serverCert,
		ClientAuth:     tls.RequestClientCert,
		CipherSuites:   aeadSuites,
	}
}

// aeadSuites are the TLS 1.2 suites every listener offers: AEAD with
// forward secrecy only (TLS 1.3 suites are not configurable and all AEAD).
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// serverCert hands new handshakes the serving generation's certificate;
// established connections keep theirs.
func (s *Server) serverCert(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.gen.Load().cert, nil
}

// Addr is the HTTPS listener's address (nil when not configured).
func (s *Server) Addr() net.Addr { return s.addr }

// PlainAddr is the plain HTTP listener's address (nil when not configured).
func (s *Server) PlainAddr() net.Addr { return s.plainAddr }

// AdminAddr is the admin listener's address (nil when disabled).
func (s *Server) AdminAddr() net.Addr { return s.adminAddr }

// Shutdown stops accepting connections and drains in-flight requests until
// ctx ends; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	servers := append([]*http.Server(nil), s.servers...)
	s.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(servers))
	for i, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = srv.Shutdown(ctx)
		}()
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	wg.Add(1)
	go func() { defer wg.Done(); s.stopGRPC(deadline) }()
	wg.Wait()
	s.stopTLSWatch()
	s.stopRemote(ctx)
	s.stopDecisionLogs(ctx)
	if g := s.gen.Load(); g != nil {
		_ = g.Close()
	}
	errs = append(errs, s.kmStores.Close())
	errs = append(errs, s.dpopReplays.Close())
	errs = append(errs, s.rateStores.Close())
	if s.auditFast != nil {
		s.auditFast.Close()
	}
	// Last: the spans of the drained requests are exported.
	errs = append(errs, s.stopTracing(ctx))
	return errors.Join(errs...)
}

// FlushAudit writes out buffered audit lines now (they are otherwise written
// at least every 100 ms, and at Shutdown).
func (s *Server) FlushAudit() {
	if s.auditFast != nil {
		s.auditFast.Flush()
	}
}

// Close stops everything at once, without draining.
func (s *Server) Close() {
	s.stopTLSWatch()
	if s.auditFast != nil {
		s.auditFast.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	for _, gs := range s.grpcServers {
		gs.Stop()
	}
	for _, ln := range s.listeners {
		_ = ln.Close()
	}
	if s.tracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.tracing.Shutdown(ctx)
	}
}

func (s *Server) routesAdmin() {
	m := s.AdminMux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	m.HandleFunc("GET /readyz", s.readyz)
	m.Handle("GET /metrics", s.metrics.Handler())
	m.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		jwks, ok, err := s.published.JWKS(time.Now())
		if !ok {
			http.NotFound(w, nil)
			return
		}
		if err != nil {
			s.log.Error("cannot publish the identity assertion key set", "error", err.Error())
			http.Error(w, "", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "max-age="+strconv.Itoa(int(assertion.JWKSMaxAge.Seconds())))
		_, _ = w.Write(jwks)
	})
	s.routesAPIKeys(m, true)
	s.routesKeyManager(m, true)
}

// Metrics returns the Prometheus registry of this server.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// buildOptions hands every generation the process-wide state that outlives
// it (connection pools, key sources, token stores, rate counters) and the
// remote bundles to build with. One place, so no build path forgets a piece.
func (s *Server) buildOptions(remote []*bundles.Source) BuildOptions {
	return BuildOptions{
		Logger:      s.log,
		Transports:  s.transports,
		KeySources:  s.keySources,
		KMStores:    s.kmStores,
		RateStores:  s.rateStores,
		DPoPReplays: s.dpopReplays,
		Remote:      remote,

		AssertionKeys: &s.assertionKeys,
	}
}
