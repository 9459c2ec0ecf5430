package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/keymanager"
	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/assertion"
	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/edge"
	"github.com/gatehouse/gatehouse/gateway/openapi"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
	"github.com/gatehouse/gatehouse/gateway/proxy"
	"github.com/gatehouse/gatehouse/gateway/ratelimit"
	shared "github.com/gatehouse/gatehouse/internal/config"
)

// Generation is everything a request needs, built together and swapped
// together: config, APIs and routes, authenticators, the prepared policy.
// A request loads the current generation once and never straddles a reload.
type Generation struct {
	// Core is what the decision core needs of the generation: APIs and
	// routes, the engine, the caches, the assertion signer
	// (gateway/pipeline/core.go). Evaluate is its method.
	pipeline.Core
	ID      uint64
	Config  *config.Config
	Built   time.Time
	closers []io.Closer
	// jwks are the remote key sources the generation's issuers use.
	jwks    []*authn.RemoteJWKS
	ops     map[*Operation]*pipeline.Op
	apiKeys *apiKeyState
	// trusts are the client-certificate trusts (per API, and the proxy's),
	// read when the generation is built; a changed file builds a new one.
	trusts []*authn.Trust
	// internalKM is the internal key manager (nil: not configured).
	internalKM *internalKMState
	// dpopRedis is the Redis client of the DPoP replay cache when a scheme
	// checks proofs and dpop.redis is set (nil otherwise), for /readyz.
	dpopRedis redis.UniversalClient
	// keyManagers are the key managers the generation's schemes use.
	keyManagers map[string]authn.KeyManager
	// usedIssuers are the issuers some scheme of an operation uses (for
	// `gatehouse check`'s warnings about unused ones).
	usedIssuers map[string]bool
	// cert is the HTTPS listener's certificate (nil without listen.tls),
	// so a reload changes it together with the trust and config it goes
	// with, and only when the whole generation built.
	cert *tls.Certificate
	// trustSums hash each trust's files when the generation is swapped in,
	// to count which trusts a reload changed (server_tls.go).
	trustSums map[string][sha256.Size]byte
	// life counts the generation's users (reload.go): it is closed when
	// the last request that loaded it ends after it was swapped out.
	life lifetime
}

// lifetime is the reference count and close-once state of a generation.
type lifetime struct {
	refs   atomic.Int64 // in-flight requests, +1 while it serves
	once   sync.Once
	closed chan struct{}
	mu     sync.Mutex
	bound  *time.Timer // closes it after retireBound however many requests remain
	err    error
}

var genCounter atomic.Uint64

// BuildOptions carries process-wide pieces a generation uses.
type BuildOptions struct {
	Logger     hclog.Logger
	Transports *proxy.Transports
	// KeySources shares remote JWKS sources across generations (a Server
	// keeps one); nil: the generation's own, closed with it.
	KeySources *authn.KeySources
	// Remote are the bundles downloaded from bundle services (owned by the
	// Server, which outlives generations).
	Remote []*bundles.Source
	// KMStores holds the internal key manager's token stores (a Server
	// keeps one); nil: opened on first use, closed with the generation.
	KMStores *keymanager.Stores
	// RateStores holds the rate limit counters (a Server keeps one, so a
	// reload keeps them); nil: the generation's own.
	RateStores *ratelimit.Stores
	// DPoPReplays holds the DPoP replay caches and nonce key (a Server
	// keeps one, so a reload keeps used proofs used); nil: the
	// generation's own.
	DPoPReplays *dpopReplays
	// AssertionKeys keeps the assertion key generated when no key file is
	// configured (a Server keeps one, so reloads do not change it); nil: a
	// new key per generation.
	AssertionKeys *assertion.Generated
}

// BuildGeneration reads every file the config references, builds
// authenticators and routes, and compiles the policy. Any problem fails the
// whole build: the caller keeps serving the previous generation.
func BuildGeneration(ctx context.Context, cfg *config.Config, opts BuildOptions) (*Generation, error) {
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if opts.Transports == nil {
		opts.Transports = proxy.NewTransports()
	}
	g := &Generation{ID: genCounter.Add(1), Config: cfg, Built: time.Now(), ops: map[*Operation]*pipeline.Op{}}
	g.life.refs.Store(1)
	g.life.closed = make(chan struct{})
	var errs config.Errors
	seen := map[string]bool{}
	fail := func(ptr string, err error) {
		// A file or secret shared by many operations is reported once, at
		// the key that names it (atkey.go).
		var ak *keyError
		if errors.As(err, &ak) {
			ptr, err = ak.Pointer, ak.Err
		}
		ce := &config.Error{File: cfg.Path, Pointer: ptr, Msg: err.Error()}
		if !seen[ce.Error()] {
			seen[ce.Error()] = true
			errs = append(errs, ce)
		}
	}

	authns := newAuthnFactory(cfg, log)
	authns.sources = opts.KeySources
	authns.dpopReplays = opts.DPoPReplays
	g.closers = append(g.closers, authns)
	apiKeys, err := buildAPIKeys(cfg, log)
	if err != nil {
		return nil, err
	}
	authns.apiKeys = apiKeys
	g.apiKeys = apiKeys
	if g.internalKM, err = buildInternalKM(ctx, cfg, log, opts.KMStores); err != nil {
		_ = authns.Close()
		return nil, err
	}
	if g.internalKM != nil {
		g.closers = append(g.closers, g.internalKM)
		authns.keyManagers = map[string]authn.KeyManager{g.internalKM.cfg.Name: g.internalKM.km}
	}
	if ui := cfg.UpstreamIdentity; ui.Enabled != nil && *ui.Enabled {
		var err error
		if g.Asserter, err = assertion.Build(ui, ui.Files(cfg.File), opts.AssertionKeys); err != nil {
			fail(config.IdentityKeyPointer(ui), err)
		}
	}
	if t := cfg.Listen.TLS; t != nil {
		c, err := tls.LoadX509KeyPair(cfg.File(t.CertFile), cfg.File(t.KeyFile))
		if err != nil {
			fail("/listen/tls", fmt.Errorf("server certificate: %w", err))
		} else {
			g.cert = &c
		}
	}
	routes := pipeline.NewRoutes()
	seenBase := map[string]string{}
	var planned []*pipeline.Op // in Options.Operations order
	for i, ac := range cfg.APIs {
		ptr := fmt.Sprintf("/apis/%d", i)
		api, err := openapi.LoadAPI(ac, cfg.File(ac.OpenAPI))
		if err != nil {
			fail(ptr+"/openapi", err)
			continue
		}
		key := api.BasePath
		if other, dup := seenBase[key]; dup {
			fail(ptr, fmt.Errorf("API %s %s has the same base path %q as %s", api.Name, api.Version, key, other))
			continue
		}
		seenBase[key] = api.Name + " " + api.Version
		tr, err := opts.Transports.Get(upstreamEndpoint(cfg, api))
		if err != nil {
			fail(ptr+"/upstream", err)
			continue
		}
		ca := &pipeline.API{API: api, CORS: edge.NewCORS(api.Config.CORS), Value: pipeline.APIValue(api), Transport: tr}
		for _, op := range api.Operations {
			cop, err := compileOp(ca, op, authns, cfg)
			if err != nil {
				fail(ptr, fmt.Errorf("%s %s: %w", op.Method, op.Path, err))
				continue
			}
			routes.Add(cop)
			g.ops[op] = cop
			planned = append(planned, cop)
		}
		g.APIs = append(g.APIs, ca)
	}
	if authns.dpop != nil {
		g.dpopRedis = authns.dpopReplays.client(cfg)
	}
	g.usedIssuers = make(map[string]bool, len(authns.issuers))
	for name := range authns.issuers {
		g.usedIssuers[name] = true
	}
	// Issuers no scheme uses are validated too (their key files, secrets
	// and key sizes), so a broken one is found before a scheme names it.
	// Remote ones are left alone: that would fetch for nothing.
	for i := range cfg.Issuers {
		if !cfg.Issuers[i].Remote() {
			if _, err := authns.issuer(cfg.Issuers[i].Name); err != nil {
				fail(fmt.Sprintf("/issuers/%d", i), err)
			}
		}
	}
	fwd, proxyTrust, err := newForwardedCerts(cfg)
	if err != nil {
		fail("/mtls/forwarded_certificate", err)
	}
	g.Forwarded, g.trusts = fwd, authns.trustList()
	if proxyTrust != nil {
		g.trusts = append(g.trusts, proxyTrust)
	}
	if len(errs) > 0 {
		_ = authns.Close()
		return nil, errs
	}
	g.Routes = routes
	g.Headers, g.CredHeaders = buildHeaderStripper(cfg, g.ops)
	g.Limits = &cfg.Limits
	g.AssertionHeader, g.XFCCHeader = cfg.UpstreamIdentity.Header, cfg.MTLS.UpstreamHeader
	g.keyManagers = authns.keyManagers
	g.jwks = authns.jwks
	authn.WaitSources(ctx, log, authns.created)

	planOps := make([]bundles.Operation, len(planned))
	for i, op := range planned {
		planOps[i] = bundles.Operation{API: op.Input.API, Operation: op.Input.Operation, Schemes: op.Input.Schemes}
	}
	eng, err := bundles.Load(ctx, bundles.Options{
		Base:       *cfg.Policy.Base,
		Bundles:    shared.ResolvePaths(cfg.Dir, cfg.Policy.Bundles),
		Remote:     opts.Remote,
		Timeout:    cfg.Policy.DecisionTimeout.D(),
		Operations: planOps,
	})
	if err == nil {
		err = probePolicy(ctx, g, eng)
	}
	if err != nil {
		_ = authns.Close()
		return nil, err
	}
	g.Engine = eng
	for i, plan := range eng.Plans() {
		planned[i].Plan = plan
	}
	g.Assertions = assertion.NewCache()
	if ok, why := eng.Cacheable(); ok {
		g.Decisions = pipeline.NewCache()
	} else {
		log.Info("decision cache off: the policy reads request-dependent input", "why", why)
	}
	if err := g.apiKeys.finish(g.APIs, eng); err != nil {
		_ = authns.Close()
		return nil, err
	}
	if g.Rate, err = ratelimit.Build(cfg.RateLimits, cfg.Dir, eng.Data(), opts.RateStores); err != nil {
		_ = authns.Close()
		return nil, err
	}
	if err := g.internalKM.finish(eng); err != nil {
		_ = g.Close()
		return nil, err
	}
	return g, nil
}

// compileOp builds the authenticators of op's schemes and prepares it for
// the decision core. A scheme's challenge realm is its configured realm,
// else the API's name.
func compileOp(api *pipeline.API, op *Operation, f *authnFactory, cfg *config.Config) (*pipeline.Op, error) {
	auths := make([]authn.Authenticator, 0, len(op.Schemes))
	for _, name := range op.Schemes {
		a, err := f.get(api.API, api.Schemes[name])
		if err != nil {
			return nil, err
		}
		auths = append(auths, a)
	}
	realm := func(scheme string) string {
		if sc, ok := cfg.Schemes[scheme]; ok && sc.Realm != "" {
			return sc.Realm
		}
		return api.Name
	}
	return pipeline.NewOp(api, op, auths, realm), nil
}

// Close releases background work (key refreshers, caches) of a generation
// that has been swapped out. It runs once; later calls return the first
// call's result. A Server closes its generations itself (reload.go).
func (g *Generation) Close() error {
	g.life.once.Do(func() {
		g.life.mu.Lock()
		if g.life.bound != nil {
			g.life.bound.Stop()
		}
		g.life.mu.Unlock()
		var errs []error
		for _, c := range g.closers {
			errs = append(errs, c.Close())
		}
		g.life.err = errors.Join(errs...)
		if g.life.closed != nil {
			close(g.life.closed)
		}
	})
	return g.life.err
}

// Describe is a one-line summary for logs.
func (g *Generation) Describe() string {
	var names []string
	for _, a := range g.APIs {
		names = append(names, a.Name+"@"+a.Version)
	}
	return strings.Join(names, ",")
}

// upstreamEndpoint is how the reverse proxy reaches api's upstream.
func upstreamEndpoint(cfg *config.Config, api *API) proxy.Endpoint {
	u := cfg.Upstream
	return proxy.Endpoint{
		Scheme: api.Upstream.Scheme, Host: api.Upstream.Host, ResponseTimeout: api.UpstreamTimeout,
		MaxIdleConnsPerHost: u.MaxIdleConnsPerHost, DialTimeout: u.DialTimeout.D(), IdleConnTimeout: u.IdleConnTimeout.D(),
		CAFiles: u.CAFiles, Dir: cfg.Dir,
	}
}
