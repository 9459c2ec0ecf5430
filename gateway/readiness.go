package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/keymanager"
)

// /readyz answers whether a balancer should send this replica requests.
// It names every dependency the configured operations need, with its
// state, and fails (503) when one marked required is unavailable: a
// replica whose token store is down answers every internal-KM token with
// 503, so the balancer should prefer a replica that can answer. A
// dependency marked degraded_ok is reported ("status": "degraded") but
// keeps the replica in (200): when a dependency is down for the whole
// fleet, taking every replica out helps no one. While draining (SIGTERM)
// /readyz fails first, before the listeners close (drain.go).

// Dependency is one entry of /readyz's "dependencies".
type Dependency struct {
	Name  string `json:"name"`  // e.g. redis:internal_key_manager, jwks:corp
	Kind  string `json:"kind"`  // redis, jwks, key_manager, reload, remote_bundles
	State string `json:"state"` // up or down
	Mode  string `json:"mode"`  // required or degraded_ok
	Error string `json:"error,omitempty"`
}

// Readiness states of /readyz.
const (
	stateUp   = "up"
	stateDown = "down"
)

// redisProbeTTL bounds how often /readyz pings the token store: balancers
// of a large fleet poll often, and the answer need not be fresher.
const (
	redisProbeTTL     = time.Second
	redisProbeTimeout = 500 * time.Millisecond
)

// storeProbe caches the last ping of a token store.
type storeProbe struct {
	mu    sync.Mutex
	store keymanager.Store
	at    time.Time
	err   error
}

// check pings s (at most once per redisProbeTTL per store).
func (p *storeProbe) check(ctx context.Context, s keymanager.Store) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.store == s && time.Since(p.at) < redisProbeTTL {
		return p.err
	}
	ctx, cancel := context.WithTimeout(ctx, redisProbeTimeout)
	defer cancel()
	p.store, p.at, p.err = s, time.Now(), keymanager.Ping(ctx, s)
	return p.err
}

// dependencies lists the serving generation's dependencies and their state.
func (s *Server) dependencies(ctx context.Context, g *Generation) []Dependency {
	rc := g.Config.Readiness
	var deps []Dependency
	add := func(name, kind, mode string, err error) {
		d := Dependency{Name: name, Kind: kind, State: stateUp, Mode: mode}
		if err != nil {
			d.State, d.Error = stateDown, err.Error()
		}
		deps = append(deps, d)
	}
	if st := g.internalKM; st != nil && st.cfg.Store.Type == keymanager.StoreRedis {
		add("redis:internal_key_manager", "redis", rc.Redis, s.storeProbe.check(ctx, st.store))
	}
	all, _ := g.jwksStatus()
	for _, js := range all {
		var err error
		if !js.Available {
			err = errString(js.LastError, "no usable key set")
		}
		add("jwks:"+js.Issuer, "jwks", rc.JWKS, err)
	}
	names := make([]string, 0, len(g.keyManagers))
	for n := range g.keyManagers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if km, ok := g.keyManagers[n].(*authn.Introspection); ok {
			var err error
			if km.BreakerOpen() {
				err = authn.ErrBreakerOpen
			}
			add("key_manager:"+n, "key_manager", rc.KeyManagers, err)
		}
	}
	if lr := s.lastReload.Load(); lr != nil {
		var err error
		if !lr.OK {
			err = errString(lr.Error, "reload failed")
		}
		add("reload", "reload", rc.Reload, err)
	}
	if s.remote != nil {
		var err error
		if s.remote.Degraded() {
			err = errString("", "a remote bundle failed to download or activate (see remote_bundles)")
		}
		add("remote_bundles", "remote_bundles", rc.RemoteBundles, err)
	}
	return deps
}

// errString is msg as an error, or def when msg is empty.
func errString(msg, def string) error {
	if msg == "" {
		msg = def
	}
	return errors.New(msg)
}

// readinessOf is the status and HTTP status of a set of dependencies.
func readinessOf(deps []Dependency) (string, int) {
	status, code := "ready", http.StatusOK
	for _, d := range deps {
		if d.State != stateDown {
			continue
		}
		if d.Mode == Required {
			return "not_ready", http.StatusServiceUnavailable
		}
		status = "degraded"
	}
	return status, code
}

// readyz reports the serving generation, its dependencies and the last
// reload: 503 while draining, before the first generation, or while a
// required dependency is down; 200 otherwise ("degraded" when a
// degraded_ok one is).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	g := s.gen.Load()
	body := map[string]any{"status": "ready", "instance_id": s.instanceID}
	status := http.StatusOK
	if g == nil {
		body["status"] = "not_ready"
		status = http.StatusServiceUnavailable
	} else {
		body["generation"] = g.ID
		body["apis"] = g.Describe()
		body["bundle_revision"] = g.Engine.Revision()
		if len(g.trusts) > 0 {
			body["client_trust"] = trustStatus(g, time.Now())
		}
		addIssuerStatus(body, g)
		deps := s.dependencies(r.Context(), g)
		body["dependencies"] = deps
		body["status"], status = readinessOf(deps)
	}
	if lr := s.lastReload.Load(); lr != nil {
		body["last_reload"] = lr
	}
	if s.remote != nil {
		body["remote_bundles"] = s.remote.Snapshot()
	}
	if s.Draining() {
		body["status"] = "draining"
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
