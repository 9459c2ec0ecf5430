package gateway

// Graceful drain. `gatehouse run` on SIGTERM: Drain, wait
// listen.drain_delay, Shutdown. During the delay /readyz answers 503
// ("draining") so balancers take the replica out while it still serves
// everything they send, and every response on the public listeners
// carries Connection: close, so keep-alive clients move to another
// replica instead of finding their connection closed. Then Shutdown stops
// accepting, lets in-flight requests finish (until shutdown_timeout) and
// closes the idle connections.

// Drain starts draining: /readyz fails from now on and the public
// listeners stop keeping connections alive. It does not stop serving.
func (s *Server) Drain() {
	if s.draining.Swap(true) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, srv := range s.servers {
		if srv.Handler != s.AdminMux {
			srv.SetKeepAlivesEnabled(false)
		}
	}
	s.log.Info("draining: /readyz fails; listeners close after listen.drain_delay")
}

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }
