package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/bundles"
)

// TLS material — the server certificate and key, and the CA bundles and
// CRLs of every client-certificate trust — belongs to the generation: it is
// read when a generation is built and changes only when a whole new one
// built (reload.go). A certificate that does not load, or a CA bundle or CRL
// that does not parse, fails the reload, and the serving generation keeps
// its certificate and trust. (A CRL past its nextUpdate still loads; the
// requests it would check fail closed, see authn.Trust.)
//
// These files are watched here, also where `gatehouse run` is not the
// caller and Server.Watch is not running, so rotated certificates and CRLs
// take effect without a SIGHUP. Once Server.Watch runs, its watcher covers
// them (Config.Files lists them) and this one stops.

// tlsWatchDebounce is how long the TLS watcher waits for events to stop:
// long enough for a key and certificate written one after the other to be
// read together.
const tlsWatchDebounce = 250 * time.Millisecond

// tlsState is the Server's part of TLS reloading.
type tlsState struct {
	watcher *bundles.Watcher
	cancel  context.CancelFunc
	reloads *prometheus.CounterVec
	crlNext *prometheus.GaugeVec
}

// startTLSWatch registers the TLS metrics and starts watching the serving
// generation's TLS files, unless watch.enabled is false. A watcher that
// cannot start is logged: SIGHUP still reloads.
func (s *Server) startTLSWatch() {
	s.tls.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_tls_reloads_total",
		Help: "Reloads that took a changed server certificate or client-certificate trust into service, by kind (server_certificate, client_trust) and result (success); failed reloads count in gatehouse_reloads_total.",
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
	w, err := bundles.NewWatcher(s.log.Named("tls"), tlsWatchDebounce)
	if err != nil {
		s.log.Warn("cannot watch TLS files; they reload on SIGHUP only", "error", err.Error())
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.tls.watcher, s.tls.cancel = w, cancel
	s.mu.Unlock()
	s.rewatchTLS()
	go w.Run(ctx)
}

// stopTLSWatch stops the watcher, if any.
func (s *Server) stopTLSWatch() {
	s.mu.Lock()
	cancel := s.tls.cancel
	s.tls.watcher, s.tls.cancel = nil, nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// rewatchTLS updates the CRL metrics and points the watcher at the serving
// generation's TLS files.
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
	s.mu.Lock()
	w := s.tls.watcher
	s.mu.Unlock()
	if w == nil || g == nil {
		return
	}
	w.Ignore(outputFiles(g.Config))
	w.Watch("tls", tlsFiles(g), func(ctx context.Context) {
		s.log.Info("TLS files changed; reloading")
		_ = s.Reload(ctx) // a failure is logged, counted and shown on /readyz
	})
}

// tlsFiles lists the generation's server certificate, key, CA and CRL files.
func tlsFiles(g *Generation) []string {
	var files []string
	if tc := g.Config.Listen.TLS; tc != nil {
		files = append(files, g.Config.File(tc.CertFile), g.Config.File(tc.KeyFile))
	}
	for _, t := range g.trusts {
		files = append(files, t.Files()...)
	}
	return files
}

// tlsSwapped counts what a swap changed of the TLS material and points the
// watcher at the new generation's files.
func (s *Server) tlsSwapped(old, g *Generation) {
	g.trustSums = map[string][sha256.Size]byte{}
	for _, t := range g.trusts {
		g.trustSums[t.Name()] = bundles.ContentSum(t.Files())
	}
	if s.tls.reloads != nil && old != nil {
		if old.cert != nil && g.cert != nil && !bytes.Equal(old.cert.Certificate[0], g.cert.Certificate[0]) {
			s.tls.reloads.WithLabelValues("server_certificate", "success").Inc()
			s.log.Info("server certificate changed", "cert_file", g.Config.File(g.Config.Listen.TLS.CertFile))
		}
		for name, sum := range g.trustSums {
			if prev, ok := old.trustSums[name]; ok && prev != sum {
				s.tls.reloads.WithLabelValues("client_trust", "success").Inc()
				s.log.Info("client certificate trust changed", "trust", name)
			}
		}
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
