package gateway

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// startRemote starts the bundle downloaders of policy.remote (if any) and
// returns the bundles the first generation is built with: each downloaded,
// or its persisted copy when the bundle service cannot be reached within
// startup_timeout. Without either the gateway does not start: it would
// decide without the bundle's rules and data (revocations, custom denies).
func (s *Server) startRemote(ctx context.Context, cfg *config.Config) ([]*bundles.Source, error) {
	if cfg.Policy.Remote == nil {
		return nil, nil
	}
	r, err := bundles.NewRemote(cfg.Policy.Remote, bundles.RemoteOptions{
		File: cfg.Path, Dir: cfg.Dir, Log: s.log.Named("bundles"), Metrics: s.metrics.Registry(),
	})
	if err != nil {
		return nil, err
	}
	s.remote = r
	if err := r.Start(ctx, cfg.Policy.Remote.StartupTimeout.D()); err != nil {
		r.Stop(ctx)
		return nil, err
	}
	return r.Initial(), nil
}

// remoteActivated records the first generation's remote bundles as active
// and from then on activates each new download through its own build.
// Bundles downloaded while the first generation was being built are
// activated now.
func (s *Server) remoteActivated(used []*bundles.Source) {
	if s.remote == nil {
		return
	}
	for _, late := range s.remote.Activated(used, s.activateRemote) {
		_ = s.activateRemote(context.Background(), late.Name, late)
	}
}

// remoteCurrent is the active remote bundles (none without policy.remote).
func (s *Server) remoteCurrent(name string, with *bundles.Source) []*bundles.Source {
	if s.remote == nil {
		return nil
	}
	return s.remote.Current(name, with)
}

func (s *Server) stopRemote(ctx context.Context) {
	if s.remote != nil {
		s.remote.Stop(ctx)
	}
}

// processWide is the part of the config that lives as long as the process:
// the bundle downloaders (with their ETags and verified state), the
// decision-log writer (and its instance id) and the tracer provider.
func processWide(cfg *config.Config) []byte {
	b, _ := json.Marshal([]any{cfg.Policy.Remote, cfg.Policy.DecisionLogs, cfg.InstanceID, cfg.Tracing}) // maps of json.RawMessage always marshal
	return b
}

// checkRemoteUnchanged warns when a reloaded config changes policy.remote,
// policy.decision_logs, instance_id or tracing: such a change takes effect
// at the next start.
func (s *Server) checkRemoteUnchanged(cfg *config.Config) {
	if !bytes.Equal(processWide(cfg), s.remoteCfg) {
		s.log.Warn("policy.remote, policy.decision_logs, instance_id or tracing changed; the change takes effect at the next start")
	}
}

func (s *Server) stopDecisionLogs(ctx context.Context) {
	if s.decisions != nil {
		s.decisions.Close(ctx)
	}
}
