package gateway

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/extauthz"
	"github.com/gatehouse/gatehouse/gateway/forwardauth"
	"github.com/gatehouse/gatehouse/gateway/frontdoor"
)

// frontDoorTLS is a front door's TLS configuration (nil: plaintext): the
// public listener's protocol floor and suites, its own certificate, and a
// required client certificate when client_ca_files are set.
func (s *Server) frontDoorTLS(cfg *config.Config, fd *config.FrontDoorConfig) (*tls.Config, error) {
	if fd.TLS == nil {
		return nil, nil
	}
	tc, err := loadServerTLS(cfg, fd.TLS)
	if err != nil {
		return nil, err
	}
	tc.CipherSuites = aeadSuites
	if len(fd.ClientCAFiles) > 0 {
		pool, err := loadCAPool(cfg, fd.ClientCAFiles)
		if err != nil {
			return nil, fmt.Errorf("client_ca_files: %w", err)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// startFrontDoors opens the ext_authz and forward-auth listeners.
func (s *Server) startFrontDoors(cfg *config.Config) error {
	if fd := cfg.Listen.ExtAuthz; fd != nil {
		peers, err := frontdoor.ParsePeers(fd.TrustedProxies)
		if err != nil {
			return err
		}
		tc, err := s.frontDoorTLS(cfg, fd)
		if err != nil {
			return fmt.Errorf("listen.ext_authz: %w", err)
		}
		ln, err := net.Listen("tcp", fd.Address)
		if err != nil {
			return fmt.Errorf("listen ext_authz %s: %w", fd.Address, err)
		}
		gs := extauthz.NewGRPCServer(extauthz.NewService(s.Decider(), peers, s.log.Named("ext_authz")), tc)
		s.mu.Lock()
		s.grpcServers = append(s.grpcServers, gs)
		s.listeners = append(s.listeners, ln)
		s.mu.Unlock()
		s.extAuthzAddr = ln.Addr()
		go func() {
			if err := gs.Serve(ln); err != nil && err != grpc.ErrServerStopped {
				s.log.Error("listener stopped", "address", ln.Addr().String(), "error", err.Error())
			}
		}()
	}
	if fd := cfg.Listen.ForwardAuth; fd != nil {
		peers, err := frontdoor.ParsePeers(fd.TrustedProxies)
		if err != nil {
			return err
		}
		tc, err := s.frontDoorTLS(cfg, fd)
		if err != nil {
			return fmt.Errorf("listen.forward_auth: %w", err)
		}
		ln, err := net.Listen("tcp", fd.Address)
		if err != nil {
			return fmt.Errorf("listen forward_auth %s: %w", fd.Address, err)
		}
		l := cfg.Listen
		srv := &http.Server{
			Handler:           forwardauth.New(s.Decider(), peers, s.log.Named("forward_auth")),
			ReadHeaderTimeout: l.ReadHeaderTimeout.D(),
			ReadTimeout:       l.ReadTimeout.D(),
			WriteTimeout:      l.WriteTimeout.D(),
			IdleTimeout:       l.IdleTimeout.D(),
			MaxHeaderBytes:    l.MaxHeaderBytes,
			TLSConfig:         tc,
			ErrorLog:          s.log.Named("forward_auth").StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
		}
		s.forwardAuthAddr = ln.Addr()
		s.serve(srv, ln, tc != nil)
	}
	return nil
}

// stopGRPC stops the gRPC front doors, gracefully until the deadline.
func (s *Server) stopGRPC(deadline time.Time) {
	s.mu.Lock()
	servers := append([]*grpc.Server(nil), s.grpcServers...)
	s.mu.Unlock()
	for _, gs := range servers {
		done := make(chan struct{})
		go func() { gs.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Until(deadline)):
			gs.Stop()
		}
	}
}

// ExtAuthzAddr is the ext_authz gRPC listener's address (nil: none).
func (s *Server) ExtAuthzAddr() net.Addr { return s.extAuthzAddr }

// ForwardAuthAddr is the forward-auth listener's address (nil: none).
func (s *Server) ForwardAuthAddr() net.Addr { return s.forwardAuthAddr }
