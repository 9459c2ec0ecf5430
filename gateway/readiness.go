package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/keymanager"
	"github.com/gatehouse/gatehouse/gateway/health"
)

// readyz answers /readyz (gateway/health) with the facts of the serving
// generation, the last reload, the remote bundles and the drain.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	rep := health.Report{InstanceID: s.instanceID, Draining: s.Draining()}
	if g := s.gen.Load(); g != nil {
		all, unavailable := health.Issuers(g.jwks)
		sv := &health.Serving{
			Generation:     g.ID,
			APIs:           g.Describe(),
			BundleRevision: g.Engine.Revision(),
			Issuers:        all,
			Unavailable:    unavailable,
			Dependencies:   s.dependencies(r.Context(), g, all),
		}
		if len(g.trusts) > 0 {
			sv.ClientTrust = trustStatus(g, time.Now())
		}
		rep.Serving = sv
	}
	if lr := s.lastReload.Load(); lr != nil {
		rep.LastReload = lr
	}
	if s.remote != nil {
		rep.RemoteBundles = s.remote.Snapshot()
	}
	rep.Write(w)
}

// dependencies lists the serving generation's dependencies and their
// state; jwks is the status of its remote key sources (health.Issuers).
func (s *Server) dependencies(ctx context.Context, g *Generation, jwks []authn.JWKSStatus) []health.Dependency {
	d := health.Dependencies{Config: g.Config.Readiness}
	if st := g.internalKM; st != nil && st.cfg.Store.Type == keymanager.StoreRedis {
		d.Add("redis:internal_key_manager", "redis", d.Config.Redis, s.storeProbe.Check(ctx, st.store, func(ctx context.Context) error {
			return keymanager.Ping(ctx, st.store)
		}))
	}
	if c := g.dpopRedis; c != nil {
		d.Add("redis:dpop", "redis", d.Config.Redis, s.dpopProbe.Check(ctx, c, func(ctx context.Context) error {
			return c.Ping(ctx).Err()
		}))
	}
	d.AddJWKS(jwks)
	d.AddKeyManagers(g.keyManagers)
	if lr := s.lastReload.Load(); lr != nil {
		var err error
		if !lr.OK {
			err = health.ErrString(lr.Error, "reload failed")
		}
		d.Add("reload", "reload", d.Config.Reload, err)
	}
	if s.remote != nil {
		var err error
		if s.remote.Degraded() {
			err = health.ErrString("", "a remote bundle failed to download or activate (see remote_bundles)")
		}
		d.Add("remote_bundles", "remote_bundles", d.Config.RemoteBundles, err)
	}
	return d.List
}
