package gateway

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/authn"
)

// Rate limits run in two stages, so that floods cost as little as possible:
//
//  1. Before any authenticator runs, per client IP (IPv6: per /64): an IP
//     whose unauthenticated traffic (public routes, missing or failed
//     credentials, refused requests) emptied its rate_limits.per_ip bucket
//     gets 429, and so does one whose failed attempts with one credential
//     (Basic: the user name; otherwise a hash of it) emptied that pair's
//     rate_limits.failures bucket. Only looking costs nothing; the buckets
//     are charged after the request, so authenticated traffic never spends
//     them — and a victim's own attempts from elsewhere are never counted
//     against the attacker's pair.
//  2. After an allow, per application (or client id, or subject) and API:
//     the plan of its subscription to the API (data.gatehouse.subscriptions),
//     else the credential's own plan (API keys), else
//     data.gatehouse.config.default_plan, sized by data.gatehouse.plans.
//
// 429 answers carry Retry-After. Plans and subscriptions are read from the
// bundle data once per generation: no second policy evaluation.

// rateStores are the process-wide counters: they outlive generations, so a
// reload keeps every bucket.
type rateStores struct {
	log      hclog.Logger
	failures prometheus.Counter
	mu       sync.Mutex
	local    *localStore
	redis    map[string]*redisStore // by address/db/prefix/user
}

func newRateStores(log hclog.Logger, reg *prometheus.Registry) *rateStores {
	s := &rateStores{log: log, redis: map[string]*redisStore{}}
	s.failures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_ratelimit_store_errors_total",
		Help: "Rate limit checks that Redis could not answer (the local counters decided).",
	})
	if reg != nil {
		reg.MustRegister(s.failures)
	}
	return s
}

func (s *rateStores) get(cfg *Config) (rateStore, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	max := DefaultRateMaxKeys
	if cfg.RateLimits != nil {
		max = cfg.RateLimits.MaxKeys
	}
	if s.local == nil {
		s.local = newLocalStore(max)
	}
	if cfg.RateLimits == nil || cfg.RateLimits.Redis == nil {
		return s.local, nil
	}
	r := cfg.RateLimits.Redis
	key := strings.Join([]string{r.Address, r.Username, string(r.Password), r.KeyPrefix, r.Timeout.D().String()}, "|")
	if st, ok := s.redis[key]; ok {
		return st, nil
	}
	st, err := newRedisStore(cfg, s.log.Named("ratelimit"), s.local, s.failures.Inc)
	if err != nil {
		return nil, err
	}
	s.redis[key] = st
	return st, nil
}

// Close closes the Redis clients.
func (s *rateStores) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, st := range s.redis {
		_ = st.c.Close()
		delete(s.redis, k)
	}
	return nil
}

// genRateLimits is one generation's rate limiting.
type genRateLimits struct {
	store    rateStore
	proxies  []netip.Prefix
	perIP    *rateSpec
	failures *rateSpec
	plans    *planTable
}

// buildRateLimits returns nil when nothing is limited (no cost per request).
func buildRateLimits(cfg *Config, data map[string]any, stores *rateStores) (*genRateLimits, error) {
	plans := buildPlanTable(data)
	rl := cfg.RateLimits
	if plans == nil && (rl == nil || rl.PerIP == nil && rl.Failures == nil) {
		return nil, nil
	}
	if stores == nil {
		stores = newRateStores(hclog.NewNullLogger(), nil)
	}
	st, err := stores.get(cfg)
	if err != nil {
		return nil, err
	}
	g := &genRateLimits{store: st, plans: plans}
	if rl != nil {
		g.perIP = spec(rl.PerIP)
		g.failures = spec(rl.Failures)
		for _, p := range rl.TrustedProxies {
			pfx, err := parsePrefix(p)
			if err != nil {
				return nil, err
			}
			g.proxies = append(g.proxies, pfx)
		}
	}
	return g, nil
}

func spec(r *RateConfig) *rateSpec {
	if r == nil {
		return nil
	}
	return &rateSpec{rate: r.RequestsPerSecond, burst: r.Burst}
}

// rateState carries stage 1's keys to the charge after the request.
type rateState struct {
	ip      string
	failKey string
}

// client is the client's address key, read before X-Forwarded-For is
// stripped: the TCP peer, or behind a trusted proxy the rightmost address of
// X-Forwarded-For that is not a trusted proxy.
func (g *genRateLimits) client(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	peer := ap.Addr().Unmap()
	if g.trusted(peer) {
		xff := r.Header.Values("X-Forwarded-For")
		for i := len(xff) - 1; i >= 0; i-- {
			parts := strings.Split(xff[i], ",")
			for j := len(parts) - 1; j >= 0; j-- {
				a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
				if err != nil {
					return addrKey(peer) // a proxy we trust wrote garbage: count the proxy
				}
				if a = a.Unmap(); !g.trusted(a) {
					return addrKey(a)
				}
			}
		}
	}
	return addrKey(peer)
}

func (g *genRateLimits) trusted(a netip.Addr) bool {
	for _, p := range g.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// before is stage 1: 0 to go on, or 429 and how long to wait.
func (g *genRateLimits) before(ctx context.Context, r *http.Request, op *compiledOp, st *rateState) (int, time.Duration) {
	if st.ip == "" {
		st.ip = ipKey(r.RemoteAddr)
	}
	if g.perIP != nil {
		if ok, retry := g.store.peek(ctx, "ip:"+st.ip, *g.perIP); !ok {
			return http.StatusTooManyRequests, retry
		}
	}
	if g.failures != nil && op != nil && !op.Public {
		if c := credentialKey(r, op); c != "" {
			st.failKey = "fail:" + st.ip + "|" + c
			if ok, retry := g.store.peek(ctx, st.failKey, *g.failures); !ok {
				return http.StatusTooManyRequests, retry
			}
		}
	}
	return 0, 0
}

// finish applies the plan's limit to an allowed request (stage 2), then
// charges stage 1's buckets for what the request turned out to be.
func (g *genRateLimits) finish(ctx context.Context, ev *Evaluation, st *rateState) {
	if ev.Status == 0 && ev.Decision != nil && ev.Decision.Allow && ev.Op != nil {
		if status, retry := g.plan(ctx, ev.Op.api.API, ev.Decision.Principal); status != 0 {
			ev.Status, ev.Reason, ev.RetryAfter = status, "rate_limited", retry
			return
		}
	}
	if st.ip == "" || ev.Failure != nil || ev.Status == http.StatusTooManyRequests {
		return
	}
	authenticated := ev.Decision != nil && ev.Decision.Allow && len(ev.Creds) > 0 && len(ev.Rejections) == 0
	if g.perIP != nil && !authenticated {
		g.store.charge(ctx, "ip:"+st.ip, *g.perIP)
	}
	if g.failures != nil && st.failKey != "" && len(ev.Rejections) > 0 {
		g.store.charge(ctx, st.failKey, *g.failures)
	}
}

// plan is stage 2: 0, or 429 and how long to wait.
func (g *genRateLimits) plan(ctx context.Context, api *API, principal ast.Object) (int, time.Duration) {
	if g.plans == nil || principal == nil {
		return 0, 0
	}
	key, s, ok := g.plans.limitFor(api, principal)
	if !ok {
		return 0, 0
	}
	if ok, retry := g.store.take(ctx, key, s); !ok {
		return http.StatusTooManyRequests, retry
	}
	return 0, 0
}

// ipKey is the client's address, or its /64 for IPv6 (one host has many).
func ipKey(remote string) string {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return remote
	}
	return addrKey(ap.Addr().Unmap())
}

func addrKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// credentialKey names the credential a request presents for op, without
// verifying it: the Basic user name, or a hash of the Authorization value
// or API-key header. "" when none is presented.
func credentialKey(r *http.Request, op *compiledOp) string {
	if v := r.Header.Get("Authorization"); v != "" {
		scheme, cred, err := authn.ParseAuthorization(v)
		if err == nil && strings.EqualFold(scheme, "Basic") {
			if user, _, err := authn.DecodeBasicCredentials(cred); err == nil {
				return "basic:" + authn.CredentialID(user)
			}
		}
		return authn.CredentialID(v)
	}
	for _, name := range op.apiKeyHeaders {
		if v := r.Header.Get(name); v != "" {
			return authn.CredentialID(v)
		}
	}
	return ""
}
