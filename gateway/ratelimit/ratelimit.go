// Package ratelimit answers 429 before verification for floods per client
// IP and per failing credential, and after an allow per application and
// API as the bundle data's plans size it; counters live in process memory
// or in Redis shared by every replica.
package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/redisconn"
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
//  2. After an allow, per application (or client id, or subject), qualified
//     by its identity source, and API: the plan of its subscription to the
//     API (data.gatehouse.subscriptions[source][application]),
//     else the credential's own plan (API keys), else
//     data.gatehouse.config.default_plan, sized by data.gatehouse.plans.
//
// 429 answers carry Retry-After. Plans and subscriptions are read from the
// bundle data once per generation: no second policy evaluation.

// Stores are the process-wide counters: they outlive generations, so a
// reload keeps every bucket.
type Stores struct {
	log      hclog.Logger
	failures prometheus.Counter
	calls    prometheus.Counter
	up       prometheus.GaugeFunc
	mu       sync.Mutex
	local    *localStore
	redis    map[string]redisBacked // by every rate_limits.redis setting
}

// redisBacked is a store over a Conn, closed with the Stores.
type redisBacked struct {
	rateStore
	conn *redisconn.Conn
	sync *syncStore
}

// NewStores makes empty stores; reg (optional) gets their counters.
func NewStores(log hclog.Logger, reg *prometheus.Registry) *Stores {
	s := &Stores{log: log, redis: map[string]redisBacked{}}
	s.failures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_ratelimit_store_errors_total",
		Help: "Rate limit checks that Redis could not answer (rate_limits.redis.on_store_error decided).",
	})
	s.calls = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_ratelimit_redis_calls_total",
		Help: "Round trips to the rate-limit Redis: one per check, or one per batch with sync_interval.",
	})
	s.up = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatehouse_ratelimit_redis_up",
		Help: "Whether every rate-limit Redis answered its last call (1; also with none configured) or on_store_error decides (0).",
	}, s.redisUp)
	if reg != nil {
		reg.MustRegister(s.Metrics()...)
	}
	return s
}

// Metrics are the stores' counters and gauge, for the server's registry.
func (s *Stores) Metrics() []prometheus.Collector {
	return []prometheus.Collector{s.failures, s.calls, s.up}
}

// redisUp is 1 when every Redis store answers (or there is none).
func (s *Stores) redisUp() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.redis {
		if !st.conn.Up() || st.sync != nil && st.sync.stale.Load() {
			return 0
		}
	}
	return 1
}

func (s *Stores) get(rl *Config, dir string) (rateStore, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	maxKeys := DefaultMaxKeys
	if rl != nil {
		maxKeys = rl.MaxKeys
	}
	if s.local == nil {
		s.local = newLocalStore(maxKeys)
	}
	if rl == nil || rl.Redis == nil {
		return s.local, nil
	}
	r := rl.Redis
	key := strings.Join([]string{r.Config.Key(), r.KeyPrefix, r.Timeout.D().String(), r.OnStoreError,
		strconv.Itoa(r.Replicas), r.SyncInterval.D().String()}, "|")
	if st, ok := s.redis[key]; ok {
		return st.rateStore, nil
	}
	log := s.log.Named("ratelimit")
	conn, err := redisconn.Open(&r.Config, dir, redisconn.Settings{
		Timeout:    r.Timeout.D(),
		MaxRetries: -1, // a retry would double the wait; on_store_error answers instead
		Log:        log,
	})
	if err != nil {
		return nil, fmt.Errorf("rate_limits.redis: %w", err)
	}
	onErr := &onError{mode: r.OnStoreError, local: s.local, replicas: max(r.Replicas, 1)}
	b := redisBacked{conn: conn}
	if r.SyncInterval > 0 {
		b.sync = newSyncStore(conn, r, maxKeys, log, onErr, s.failures.Inc, s.calls.Inc)
		b.rateStore = b.sync
	} else {
		b.rateStore = newRedisStore(conn, r, log, onErr, s.failures.Inc, s.calls.Inc)
	}
	s.redis[key] = b
	return b.rateStore, nil
}

// Close stops the batches and closes the Redis clients.
func (s *Stores) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, st := range s.redis {
		if st.sync != nil {
			st.sync.close()
		}
		_ = st.conn.Close()
		delete(s.redis, k)
	}
	return nil
}

// Limits is one generation's rate limiting.
type Limits struct {
	store    rateStore
	proxies  []netip.Prefix
	perIP    *rateSpec
	failures *rateSpec
	plans    *planTable
}

// Build makes one generation's limits from rate_limits (rl, nil when
// absent; dir resolves its file: secrets) and the bundle data's plans. It
// returns nil when nothing is limited (no cost per request).
func Build(rl *Config, dir string, data map[string]any, stores *Stores) (*Limits, error) {
	plans := buildPlanTable(data)
	if plans == nil && (rl == nil || rl.PerIP == nil && rl.Failures == nil) {
		return nil, nil
	}
	if stores == nil {
		stores = NewStores(hclog.NewNullLogger(), nil)
	}
	st, err := stores.get(rl, dir)
	if err != nil {
		return nil, err
	}
	g := &Limits{store: st, plans: plans}
	if rl != nil {
		g.perIP = spec(rl.PerIP)
		g.failures = spec(rl.Failures)
		for _, p := range rl.TrustedProxies {
			pfx, err := config.ParsePrefix(p)
			if err != nil {
				return nil, err
			}
			g.proxies = append(g.proxies, pfx)
		}
	}
	return g, nil
}

func spec(r *Rate) *rateSpec {
	if r == nil {
		return nil
	}
	return &rateSpec{rate: r.RequestsPerSecond, burst: r.Burst}
}

// State carries stage 1's keys to the charge after the request.
type State struct {
	ip      string
	failKey string
}

// State starts a request's state with its client's address key; call it
// before X-Forwarded-For is stripped.
func (g *Limits) State(r *http.Request) State { return State{ip: g.client(r)} }

// client is the client's address key, read before X-Forwarded-For is
// stripped: the TCP peer, or behind a trusted proxy the rightmost address of
// X-Forwarded-For that is not a trusted proxy.
func (g *Limits) client(r *http.Request) string {
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

func (g *Limits) trusted(a netip.Addr) bool {
	for _, p := range g.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Before is stage 1: 0 to go on, or 429 and how long to wait. public: the
// operation has no security; apiKeyHeaders are its API-key headers.
func (g *Limits) Before(ctx context.Context, r *http.Request, public bool, apiKeyHeaders []string, st *State) (int, time.Duration) {
	if st.ip == "" {
		st.ip = ipKey(r.RemoteAddr)
	}
	if g.perIP != nil {
		if ok, retry := g.store.peek(ctx, "ip:"+st.ip, *g.perIP); !ok {
			return http.StatusTooManyRequests, retry
		}
	}
	if g.failures != nil && !public {
		if c := credentialKey(r, apiKeyHeaders); c != "" {
			st.failKey = "fail:" + st.ip + "|" + c
			if ok, retry := g.store.peek(ctx, st.failKey, *g.failures); !ok {
				return http.StatusTooManyRequests, retry
			}
		}
	}
	return 0, 0
}

// Charge charges stage 1's buckets for what the request turned out to be:
// the per-IP bucket unless it was authenticated, the failure bucket when a
// credential was rejected.
func (g *Limits) Charge(ctx context.Context, st *State, authenticated, rejected bool) {
	if st.ip == "" {
		return
	}
	if g.perIP != nil && !authenticated {
		g.store.charge(ctx, "ip:"+st.ip, *g.perIP)
	}
	if g.failures != nil && st.failKey != "" && rejected {
		g.store.charge(ctx, st.failKey, *g.failures)
	}
}

// Plan is stage 2, for an allowed request of a principal to API api at
// version: 0, or 429 and how long to wait.
func (g *Limits) Plan(ctx context.Context, api, version string, principal ast.Object) (int, time.Duration) {
	if g.plans == nil || principal == nil {
		return 0, 0
	}
	key, s, ok := g.plans.limitFor(api, version, principal)
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
func credentialKey(r *http.Request, apiKeyHeaders []string) string {
	if v := r.Header.Get("Authorization"); v != "" {
		scheme, cred, err := authn.ParseAuthorization(v)
		if err == nil && strings.EqualFold(scheme, "Basic") {
			if user, _, err := authn.DecodeBasicCredentials(cred); err == nil {
				return "basic:" + authn.CredentialID(user)
			}
		}
		return authn.CredentialID(v)
	}
	for _, name := range apiKeyHeaders {
		if v := r.Header.Get(name); v != "" {
			return authn.CredentialID(v)
		}
	}
	return ""
}
