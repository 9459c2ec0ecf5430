package gateway

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// Watch starts reloading on file changes: the config file and every file the
// serving generation was built from (Config.Files). Each change builds a new
// generation through Reload, so a change that does not build — a bundle that
// does not parse or compile, data that fails its schema, overlapping roots, a
// truncated tarball — leaves the previous generation serving, and shows on
// /readyz and in gatehouse_reloads_total{result="failure"}. It runs until
// ctx ends.
func (s *Server) Watch(ctx context.Context) error {
	s.mu.Lock()
	if s.watcher != nil {
		s.mu.Unlock()
		return errors.New("already watching")
	}
	w, err := bundles.NewWatcher(s.log.Named("watch"), s.gen.Load().Config.Watch.Debounce.D())
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.watcher = w
	s.mu.Unlock()
	s.rewatch()
	go w.Run(ctx)
	// This watcher sees the TLS files too (Config.Files lists them): the
	// TLS-only one (server_tls.go) would reload a second time.
	s.stopTLSWatch()
	return nil
}

// Watcher returns the file watcher (nil unless Watch was called), for other
// parts of the gateway to register their own groups of files.
func (s *Server) Watcher() *bundles.Watcher {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.watcher
}

// rewatch points the "generation" group at the files of the serving
// generation (its config may have added or removed some).
func (s *Server) rewatch() {
	w := s.Watcher()
	if w == nil {
		return
	}
	cfg := s.gen.Load().Config
	w.Ignore(outputFiles(cfg))
	w.Watch("generation", cfg.Files(), func(ctx context.Context) {
		s.log.Info("files changed; reloading")
		_ = s.Reload(ctx) // a failure is logged, counted and shown on /readyz
	})
}

// outputFiles are the files the gateway itself writes: the decision log and
// the internal key manager's token store. The watchers never react to them,
// even where they sit beside the config (the quickstart's decisions.jsonl)
// or inside a watched directory; under traffic they change all the time.
func outputFiles(cfg *config.Config) []string {
	var out []string
	if dl := cfg.Policy.DecisionLogs; dl != nil && dl.File != "" {
		out = append(out, cfg.File(dl.File))
	}
	if km := cfg.InternalKeyManager; km != nil && km.Store.Type != "redis" && km.Store.Path != "" {
		out = append(out, cfg.File(km.Store.Path))
	}
	return out
}
