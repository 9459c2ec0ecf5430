package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// The one reload path. SIGHUP (Reload), the file watchers (which call
// Reload) and the activation of a downloaded remote bundle (activateRemote)
// all come here: build a whole new generation from the config, the files it
// references and the bundles, swap it in only when everything built —
// server certificate, client-certificate trust, keys, routes and policy
// together — and otherwise keep the serving generation untouched. The
// swapped-out generation is closed when the last request that loaded it
// ends (or after retireBound).

// retireBound is how long a swapped-out generation may stay open for
// requests that still hold it (long downloads, upgraded connections)
// before it is closed anyway. A minute is what the gateway gave every
// retired generation before they were reference counted; requests past it
// finish with the generation's background work (key refreshes) stopped.
const retireBound = time.Minute

// errTLSRemoved refuses a reload that drops listen.tls while the HTTPS
// listener serves: it would have no certificate for new handshakes.
var errTLSRemoved = errors.New("listen.tls cannot be removed while the HTTPS listener runs; restart the gateway")

// Reload rebuilds the generation from the config file on the side and swaps
// it in only if everything builds. On failure the previous generation keeps
// serving; the error is logged, counted, and shown on /readyz.
func (s *Server) Reload(ctx context.Context) error {
	return s.rebuild(ctx, func(ctx context.Context) error {
		cfg, err := config.Load(s.cfgPath)
		if err != nil {
			return err
		}
		s.checkRemoteUnchanged(cfg)
		return s.buildAndSwap(ctx, cfg, s.remoteCurrent("", nil))
	})
}

// activateRemote builds a generation from the serving config with one
// remote bundle replaced, the same path local bundles take. On failure the
// serving generation stays, and the failure shows on /readyz and in metrics.
func (s *Server) activateRemote(ctx context.Context, name string, src *bundles.Source) error {
	return s.rebuild(ctx, func(ctx context.Context) error {
		return s.buildAndSwap(ctx, s.gen.Load().Config, s.remote.Current(name, src))
	})
}

// rebuild runs one generation build, one at a time, and records its
// outcome.
func (s *Server) rebuild(ctx context.Context, build func(context.Context) error) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	err := build(ctx)
	if err != nil {
		s.metrics.Reloads.WithLabelValues("failure").Inc()
		s.metrics.ReloadOK.Set(0)
		s.lastReload.Store(&reloadStatus{At: time.Now(), OK: false, Error: err.Error()})
		s.log.Error("reload failed; previous generation keeps serving", "generation", s.gen.Load().ID, "error", err.Error())
		return err
	}
	s.metrics.Reloads.WithLabelValues("success").Inc()
	s.metrics.ReloadOK.Set(1)
	s.lastReload.Store(&reloadStatus{At: time.Now(), OK: true})
	s.rewatch()
	return nil
}

// buildAndSwap builds a generation from cfg and the given remote bundles
// and makes it the serving one. Nothing of the serving generation changes
// before the build succeeded.
func (s *Server) buildAndSwap(ctx context.Context, cfg *config.Config, remote []*bundles.Source) error {
	if cfg.Listen.TLS == nil && s.addr != nil {
		return errTLSRemoved
	}
	start := time.Now()
	g, err := BuildGeneration(ctx, cfg, s.buildOptions(remote))
	if err != nil {
		return err
	}
	s.swap(g, start)
	return nil
}

// swap makes g the serving generation (the first one too, from New) and
// retires the previous one.
func (s *Server) swap(g *Generation, start time.Time) {
	old := s.gen.Swap(g)
	if s.manageRuntime && old != nil { // New applied the first config's before building
		applyRuntime(g.Config, s.log)
	}
	s.tlsSwapped(old, g)
	s.published.Use(g.Asserter, time.Now())
	s.metrics.Generation.Set(float64(g.ID))
	s.log.Info("generation active", "generation", g.ID, "apis", g.Describe(), "bundle_revision", g.Engine.Revision(),
		"build_ms", time.Since(start).Milliseconds())
	if old != nil {
		old.retire()
	}
}

// acquire returns the serving generation with a reference held for the
// request; the caller calls release(g, held) when the request is done.
// A generation that was swapped out and released between the load and the
// increment is skipped for its successor. held is false only after
// Shutdown closed the last generation: late requests then use it without
// keeping it open.
func (s *Server) acquire() (g *Generation, held bool) {
	for {
		g = s.gen.Load()
		if g.ref() {
			return g, true
		}
		if s.gen.Load() == g {
			return g, false
		}
	}
}

// release ends a request's hold on g.
func release(g *Generation, held bool) {
	if held {
		g.unref()
	}
}

// ref takes a reference unless the generation has already been released.
func (g *Generation) ref() bool {
	for {
		n := g.life.refs.Load()
		if n <= 0 {
			return false
		}
		if g.life.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// unref drops a reference; the last one closes the generation.
func (g *Generation) unref() {
	if g.life.refs.Add(-1) == 0 {
		_ = g.Close()
	}
}

// retire drops the serving reference of a swapped-out generation: it closes
// now if no request holds it, else when the last one ends, and after
// retireBound at the latest.
func (g *Generation) retire() {
	g.life.mu.Lock()
	g.life.bound = time.AfterFunc(retireBound, func() { _ = g.Close() })
	g.life.mu.Unlock()
	g.unref()
}

// Closed is closed once the generation has been closed (released by its
// last request after a reload, or at Shutdown).
func (g *Generation) Closed() <-chan struct{} { return g.life.closed }
