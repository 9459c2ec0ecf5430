package health

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// /readyz names every dependency the configured operations need, with its
// state, and fails (503) when one marked required is unavailable: a
// replica whose token store is down answers every internal-KM token with
// 503, so the balancer should prefer a replica that can answer. A
// dependency marked degraded_ok is reported ("status": "degraded") but
// keeps the replica in (200): when a dependency is down for the whole
// fleet, taking every replica out helps no one. While draining (SIGTERM)
// /readyz fails first, before the listeners close (gateway/drain.go).

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
	StateUp   = "up"
	StateDown = "down"
)

// Dependencies collects the dependencies of the serving generation, each
// with the mode its kind has in the readiness section.
type Dependencies struct {
	Config config.ReadinessConfig
	List   []Dependency
}

// Add records one dependency: down when err is not nil.
func (d *Dependencies) Add(name, kind, mode string, err error) {
	dep := Dependency{Name: name, Kind: kind, State: StateUp, Mode: mode}
	if err != nil {
		dep.State, dep.Error = StateDown, err.Error()
	}
	d.List = append(d.List, dep)
}

// AddJWKS records each issuer's remote key set (sorted by issuer).
func (d *Dependencies) AddJWKS(all []authn.JWKSStatus) {
	for _, js := range all {
		var err error
		if !js.Available {
			err = ErrString(js.LastError, "no usable key set")
		}
		d.Add("jwks:"+js.Issuer, "jwks", d.Config.JWKS, err)
	}
}

// AddKeyManagers records the introspection key managers among kms, by
// name: down while the circuit breaker is open.
func (d *Dependencies) AddKeyManagers(kms map[string]authn.KeyManager) {
	names := make([]string, 0, len(kms))
	for n := range kms {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if km, ok := kms[n].(*authn.Introspection); ok {
			var err error
			if km.BreakerOpen() {
				err = authn.ErrBreakerOpen
			}
			d.Add("key_manager:"+n, "key_manager", d.Config.KeyManagers, err)
		}
	}
}

// ErrString is msg as an error, or def when msg is empty.
func ErrString(msg, def string) error {
	if msg == "" {
		msg = def
	}
	return errors.New(msg)
}

// Of is the status and HTTP status of a set of dependencies.
func Of(deps []Dependency) (string, int) {
	status, code := "ready", http.StatusOK
	for _, d := range deps {
		if d.State != StateDown {
			continue
		}
		if d.Mode == config.Required {
			return "not_ready", http.StatusServiceUnavailable
		}
		status = "degraded"
	}
	return status, code
}

// Issuers sorts the status of remote key sources by issuer and names
// those without a usable key set.
func Issuers(srcs []*authn.RemoteJWKS) (all []authn.JWKSStatus, unavailable []string) {
	for _, s := range srcs {
		st := s.Status()
		all = append(all, st)
		if !st.Available {
			unavailable = append(unavailable, st.Issuer)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Issuer < all[j].Issuer })
	sort.Strings(unavailable)
	return all, unavailable
}

// redisProbeTTL bounds how often /readyz pings a Redis dependency: balancers
// of a large fleet poll often, and the answer need not be fresher.
const (
	redisProbeTTL     = time.Second
	redisProbeTimeout = 500 * time.Millisecond
)

// PingProbe caches the last ping of one dependency (the token store, the
// DPoP replay cache's Redis), so /readyz polled by many balancers pings it
// at most once per redisProbeTTL.
type PingProbe struct {
	mu  sync.Mutex
	key any
	at  time.Time
	err error
}

// Check calls ping (at most once per redisProbeTTL for the same key).
func (p *PingProbe) Check(ctx context.Context, key any, ping func(context.Context) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.key == key && time.Since(p.at) < redisProbeTTL {
		return p.err
	}
	ctx, cancel := context.WithTimeout(ctx, redisProbeTimeout)
	defer cancel()
	p.key, p.at, p.err = key, time.Now(), ping(ctx)
	return p.err
}
