package gateway

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Hot reload of TLS material, and its reporting. See tlsWatcher.

// tlsState is the Server's part of TLS reloading.
type tlsState struct {
	watcher *tlsWatcher
	cancel  context.CancelFunc
	reloads *prometheus.CounterVec
	crlNext *prometheus.GaugeVec
}

// startTLSWatch starts watching the server certificate and the generation's
// trust files, unless watch.enabled is false. It is separate from the
// generation watcher (Server.Watch): these files reload in place, without a
// new generation, also where `gatehouse run` is not the caller. A watcher
// that cannot start is logged: SIGHUP still reloads.
func (s *Server) startTLSWatch() {
	s.tls.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_tls_reloads_total",
		Help: "In-place reloads of TLS files by kind (server_certificate, client_trust) and result (success, failure).",
	}, []string{"kind", "result"})
	s.tls.crlNext = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gatehouse_client_crl_next_update_seconds",
		Help: "Earliest nextUpdate (Unix seconds) of the CRLs of each client-certificate trust; past means requests with certificates fail closed.",
	}, []string{"trust"})
	s.metrics.Registry().MustRegister(s.tls.reloads, s.tls.crlNext)
	if on := s.gen.Load().Config.Watch.Enabled; on != nil && !*on {
		s.rewatchTLS() // metrics only; SIGHUP reloads
		return
	}
	w, err := newTLSWatcher(s.log.Named("tls"), tlsWatchDebounce, s.tlsFilesChanged)
	if err != nil {
		s.log.Warn("cannot watch TLS files; they reload on SIGHUP only", "error", err.Error())
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.tls.watcher, s.tls.cancel = w, cancel
	s.rewatchTLS()
	go w.run(ctx)
}

// stopTLSWatch stops the watcher, if any.
func (s *Server) stopTLSWatch() {
	if s.tls.cancel != nil {
		s.tls.cancel()
	}
}

// rewatchTLS points the watcher at the current generation's files.
func (s *Server) rewatchTLS() {
	g := s.gen.Load()
	if s.tls.crlNext != nil && g != nil {
		s.tls.crlNext.Reset()
		for _, t := range g.trusts {
			if nu := t.CRLNextUpdate(); !nu.IsZero() {
				s.tls.crlNext.WithLabelValues(t.Name()).Set(float64(nu.Unix()))
			}
		}
	}
	if s.tls.watcher == nil || g == nil {
		return
	}
	var files []string
	if tc := g.Config.Listen.TLS; tc != nil {
		files = append(files, g.Config.File(tc.CertFile), g.Config.File(tc.KeyFile))
	}
	for _, t := range g.trusts {
		files = append(files, t.Files()...)
	}
	s.tls.watcher.set(files)
}

// tlsFilesChanged reloads what the changed files belong to. A server
// certificate that fails to load keeps the previous one serving; a trust
// that fails to load fails closed for its API (authn.Trust) — both are
// logged and counted.
func (s *Server) tlsFilesChanged(changed map[string]bool) {
	s.reloadMu.Lock() // never interleave with a generation reload
	defer s.reloadMu.Unlock()
	g := s.gen.Load()
	if tc := g.Config.Listen.TLS; tc != nil && s.certs != nil {
		cert, key := g.Config.File(tc.CertFile), g.Config.File(tc.KeyFile)
		if changed[cert] || changed[key] {
			if err := s.certs.reload(cert, key); err != nil {
				s.tls.reloads.WithLabelValues("server_certificate", "failure").Inc()
				s.log.Error("server certificate reload failed; the previous certificate keeps serving", "error", err.Error())
			} else {
				s.tls.reloads.WithLabelValues("server_certificate", "success").Inc()
				s.log.Info("server certificate reloaded", "cert_file", cert)
			}
		}
	}
	for _, t := range g.trusts {
		hit := false
		for _, f := range t.Files() {
			hit = hit || changed[f]
		}
		if !hit {
			continue
		}
		if err := t.Reload(); err != nil {
			s.tls.reloads.WithLabelValues("client_trust", "failure").Inc()
			s.log.Error("client certificate trust reload failed; certificates for it fail closed until fixed", "trust", t.Name(), "error", err.Error())
			continue
		}
		s.tls.reloads.WithLabelValues("client_trust", "success").Inc()
		s.log.Info("client certificate trust reloaded", "trust", t.Name(), "crl_next_update", t.CRLNextUpdate())
	}
	s.rewatchTLS()
}

// trustStatus is the client_trust member of /readyz: per trust, whether its
// material is in use, and when its CRLs go stale.
func trustStatus(g *Generation, now time.Time) map[string]any {
	out := map[string]any{}
	for _, t := range g.trusts {
		st := map[string]any{"ok": t.Err() == nil}
		if err := t.Err(); err != nil {
			st["error"] = err.Error()
		}
		if nu := t.CRLNextUpdate(); !nu.IsZero() {
			st["crl_next_update"] = nu.UTC().Format(time.RFC3339)
			if !now.Before(nu) {
				st["ok"], st["error"] = false, "a CRL is past its nextUpdate: certificates fail closed"
			}
		}
		out[t.Name()] = st
	}
	return out
}
