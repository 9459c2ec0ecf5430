package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/hashicorp/go-hclog"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/keymanager"
	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/assertion"
	"github.com/gatehouse/gatehouse/gateway/edge"
	"github.com/gatehouse/gatehouse/gateway/openapi"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
	"github.com/gatehouse/gatehouse/gateway/ratelimit"
)

// Generation is everything a request needs, built together and swapped
// together: config, APIs and routes, authenticators, the prepared policy.
// A request loads the current generation once and never straddles a reload.
type Generation struct {
	ID     uint64
	Config *Config
	APIs   []*compiledAPI
	Engine *bundles.Engine
	Built  time.Time
	router *mux.Router
	// decisions caches policy decisions when the policy allows it (nil otherwise).
	decisions *pipeline.Cache
	// assertions caches signed identity assertions for this generation's
	// operations (gateway/assertion).
	assertions *assertion.Cache
	// asserter signs the identity assertion (nil: upstream_identity is
	// off); its key is read with the generation, so a reload rotates it.
	asserter *assertion.Signer
	closers  []io.Closer
	// jwks are the remote key sources the generation's issuers use.
	jwks    []*authn.RemoteJWKS
	ops     map[*Operation]*compiledOp
	apiKeys *apiKeyState
	// fwd accepts client certificates from trusted proxies (nil: off);
	// trusts are the client-certificate trusts (per API, and the proxy's),
	// read when the generation is built; a changed file builds a new one.
	fwd    *pipeline.ForwardedCerts
	trusts []*authn.Trust
	// internalKM is the internal key manager (nil: not configured).
	internalKM *internalKMState
	// rate is the generation's rate limiting (nil: none; gateway/ratelimit).
	rate *ratelimit.Limits
	// keyManagers are the key managers the generation's schemes use.
	keyManagers map[string]authn.KeyManager
	// headers removes client-sent identity headers (gateway/edge); until
	// authentication it spares credHeaders, the API-key header names.
	headers     *edge.HeaderStripper
	credHeaders map[string]struct{}
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

type compiledAPI struct {
	*API
	cors      *edge.CORS // nil: no CORS
	astAPI    *ast.Term
	transport http.RoundTripper
}

// compiledOp is an Operation with everything the hot path needs prepared.
type compiledOp struct {
	*Operation
	api *compiledAPI
	// core is what the decision core keeps of the operation: the prepared
	// parts of the policy input and the credential headers.
	core           pipeline.Op
	authenticators []authn.Authenticator // same order as Operation.Schemes
	// mtls: the operation can take a client certificate (SNI/Host check).
	mtls bool
	// secretHeaders are canonical header names that carry credentials for
	// this operation; they never reach the policy input or the upstream.
	secretHeaders map[string]struct{}
	apiKeyHeaders []string // canonical names of API key headers (also in secretHeaders)
	stripQuery    []string // API key query parameters to remove
	stripCookies  []string // API key cookies to remove
	challenges    []challenge
	// assert is what the identity assertion says about the operation (and
	// the key of the generation's assertion cache).
	assert assertion.Operation
	// readsAuthorization: some scheme of the operation reads the
	// Authorization header (http, oauth2, openIdConnect), which is then never
	// forwarded.
	readsAuthorization bool
	// noQueryToken: a bearer operation that refuses access_token in the
	// query (querytoken.go).
	noQueryToken bool
}

// opHandler lets a mux match hand back the operation without a map lookup.
type opHandler struct{ op *compiledOp }

func (opHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

var genCounter atomic.Uint64

// BuildOptions carries process-wide pieces a generation uses.
type BuildOptions struct {
	Logger     hclog.Logger
	Transports *transports
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
func BuildGeneration(ctx context.Context, cfg *Config, opts BuildOptions) (*Generation, error) {
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if opts.Transports == nil {
		opts.Transports = newTransports()
	}
	g := &Generation{ID: genCounter.Add(1), Config: cfg, Built: time.Now(), ops: map[*Operation]*compiledOp{}}
	g.life.refs.Store(1)
	g.life.closed = make(chan struct{})
	var errs ConfigErrors
	seen := map[string]bool{}
	fail := func(ptr string, err error) {
		// A file or secret shared by many operations is reported once, at
		// the key that names it (atkey.go).
		var ak *keyError
		if errors.As(err, &ak) {
			ptr, err = ak.Pointer, ak.Err
		}
		ce := &ConfigError{File: cfg.Path, Pointer: ptr, Msg: err.Error()}
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
		if g.asserter, err = assertion.Build(ui, ui.Files(cfg.File), opts.AssertionKeys); err != nil {
			fail(identityKeyPointer(ui), err)
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
	router := mux.NewRouter()
	seenBase := map[string]string{}
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
		tr, err := opts.Transports.get(cfg, api)
		if err != nil {
			fail(ptr+"/upstream", err)
			continue
		}
		ca := &compiledAPI{API: api, cors: edge.NewCORS(api.Config.CORS), astAPI: apiValue(api), transport: tr}
		for _, op := range api.Operations {
			cop, err := compileOp(ca, op, authns, cfg)
			if err != nil {
				fail(ptr, fmt.Errorf("%s %s: %w", op.Method, op.Path, err))
				continue
			}
			addRoute(router, cop)
			g.ops[op] = cop
		}
		g.APIs = append(g.APIs, ca)
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
	g.fwd, g.trusts = fwd, authns.trustList()
	if proxyTrust != nil {
		g.trusts = append(g.trusts, proxyTrust)
	}
	if len(errs) > 0 {
		_ = authns.Close()
		return nil, errs
	}
	router.NotFoundHandler = http.NotFoundHandler()
	g.router = router
	g.headers, g.credHeaders = buildHeaderStripper(cfg, g.ops)
	g.keyManagers = authns.keyManagers
	g.jwks = authns.jwks
	authn.WaitSources(ctx, log, authns.created)

	eng, err := bundles.Load(ctx, bundles.Options{
		Base:    *cfg.Policy.Base,
		Bundles: resolveAll(cfg, cfg.Policy.Bundles),
		Remote:  opts.Remote,
		Timeout: cfg.Policy.DecisionTimeout.D(),
	})
	if err == nil {
		err = probePolicy(ctx, g, eng)
	}
	if err != nil {
		_ = authns.Close()
		return nil, err
	}
	g.Engine = eng
	g.assertions = assertion.NewCache()
	if ok, why := eng.Cacheable(); ok {
		g.decisions = pipeline.NewCache()
	} else {
		log.Info("decision cache off: the policy reads request-dependent input", "why", why)
	}
	if err := g.apiKeys.finish(g.APIs, eng); err != nil {
		_ = authns.Close()
		return nil, err
	}
	if g.rate, err = ratelimit.Build(cfg.RateLimits, cfg.Dir, eng.Data(), opts.RateStores); err != nil {
		_ = authns.Close()
		return nil, err
	}
	if err := g.internalKM.finish(eng); err != nil {
		_ = g.Close()
		return nil, err
	}
	return g, nil
}

func resolveAll(cfg *Config, ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = cfg.File(p)
	}
	return out
}

// addRoute registers the operation; HEAD follows GET's security unless the
// document defines HEAD itself.
func addRoute(r *mux.Router, op *compiledOp) {
	tmpl := op.api.BasePath + op.Path
	methods := []string{op.Method}
	if op.Method == http.MethodGet && !hasOperation(op.api.API, http.MethodHead, op.Path) {
		methods = append(methods, http.MethodHead)
	}
	r.Handle(tmpl, opHandler{op}).Methods(methods...)
}

func hasOperation(api *API, method, path string) bool {
	for _, o := range api.Operations {
		if o.Method == method && o.Path == path {
			return true
		}
	}
	return false
}

func compileOp(api *compiledAPI, op *Operation, f *authnFactory, cfg *Config) (*compiledOp, error) {
	c := &compiledOp{
		Operation:     op,
		api:           api,
		core:          pipeline.Op{API: api.astAPI, Operation: operationValue(op), Schemes: schemesValue(op), NumSchemes: len(op.Schemes)},
		secretHeaders: map[string]struct{}{"Authorization": {}, "Proxy-Authorization": {}, "Cookie": {}},
		mtls:          usesMTLS(api.API, op),
		assert:        assertion.Operation{API: api.Name, Version: api.Version, ID: op.ID},
	}
	c.core.PathParams, c.core.PathSegs = pipeline.CompilePathParams(api.BasePath + op.Path)
	c.core.ReadsBody = op.PolicyBody
	for _, name := range op.Schemes {
		def := api.Schemes[name]
		a, err := f.get(api.API, def)
		if err != nil {
			return nil, err
		}
		c.authenticators = append(c.authenticators, a)
		switch def.Type {
		case "http", "oauth2", "openIdConnect":
			c.readsAuthorization = true
		}
		if dc, ok := a.(authn.DPoPChallenger); ok {
			if mode, _ := dc.DPoP(); mode != authn.DPoPOff {
				// The proof is a credential: kept out of the policy input
				// and never forwarded.
				c.secretHeaders[dpopHeader] = struct{}{}
			}
		}
		if l, ok := a.(authn.Located); ok {
			loc := l.Location()
			switch loc.In {
			case authn.InHeader:
				h := http.CanonicalHeaderKey(loc.Name)
				c.secretHeaders[h] = struct{}{}
				c.apiKeyHeaders = append(c.apiKeyHeaders, h)
			case authn.InQuery:
				c.stripQuery = append(c.stripQuery, loc.Name)
			case authn.InCookie:
				c.stripCookies = append(c.stripCookies, loc.Name)
			}
		}
		if ch, ok := challengeFor(api.API, def, a, cfg); ok {
			c.challenges = append(c.challenges, ch)
		}
	}
	authn.ExclusiveKeys(c.authenticators)
	c.noQueryToken = refusesQueryToken(c)
	c.core.SecretHeaders = c.secretHeaders
	c.core.StripQuery = c.stripQuery
	return c, nil
}

// match finds the operation for a request path and method.
func (g *Generation) match(r *http.Request) (*compiledOp, error) {
	var m mux.RouteMatch
	if g.router.Match(r, &m) {
		if h, ok := m.Handler.(opHandler); ok {
			return h.op, nil
		}
	}
	if errors.Is(m.MatchErr, mux.ErrMethodMismatch) {
		return nil, errMethodNotAllowed
	}
	return nil, errNotFound
}

var (
	errNotFound         = errors.New("no such route")
	errMethodNotAllowed = errors.New("method not allowed")
)

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
