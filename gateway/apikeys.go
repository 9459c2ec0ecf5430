package gateway

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/apikeys"
	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/openapi"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
	shared "github.com/gatehouse/gatehouse/internal/config"
)

// apiKeyState is the API key side of one generation: the token service
// (signing and verification keys, from the api_keys section), its issuing
// endpoint, and the static keys of the generation's bundle data. It is
// built with the generation and swapped with it, so rotating keys, users or
// data is a reload.
type apiKeyState struct {
	cfg      *config.APIKeysConfig // nil when api_keys is not configured
	service  *apikeys.Service
	endpoint *apikeys.Endpoint
	// Dedicated listener material (endpoint.listen is an address).
	serverTLS *tls.Config // nil without endpoint.tls
	// static holds data.gatehouse.static_api_keys of this generation,
	// stored once after the policy engine loads and before the generation
	// serves; authenticators read it per request.
	static atomic.Pointer[authn.StaticAPIKeys]
	log    hclog.Logger
}

// buildAPIKeys builds the api_keys section (apikeys.SectionConfig.Build).
// Problems are ConfigErrors pointing into /api_keys.
func buildAPIKeys(cfg *config.Config, log hclog.Logger) (*apiKeyState, error) {
	st := &apiKeyState{cfg: cfg.APIKeys, log: log.Named("apikeys")}
	if cfg.APIKeys == nil {
		return st, nil
	}
	b, err := cfg.APIKeys.Build(cfg.Dir, st.log)
	if err != nil {
		return nil, sectionError(cfg, "/api_keys", err)
	}
	st.service, st.endpoint, st.serverTLS = b.Service, b.Endpoint, b.ServerTLS
	return st, nil
}

// sectionError places err, from building the section at ptr, at the key
// it names (internal/config.KeyError, relative to the section).
func sectionError(cfg *config.Config, ptr string, err error) error {
	var ke *shared.KeyError
	if errors.As(err, &ke) {
		ptr += ke.Pointer
	}
	return config.Errors{{File: cfg.Path, Pointer: ptr, Msg: err.Error()}}
}

// finish completes the state once the generation's APIs and policy engine
// are built: keys are issued only for APIs this generation serves, and the
// static keys of the bundle data are parsed (a malformed entry fails the
// whole generation, so the previous one keeps serving).
func (st *apiKeyState) finish(apis []*pipeline.API, eng *bundles.Engine) error {
	if st.service != nil && st.endpoint != nil {
		known := make([]authn.APIRef, 0, len(apis))
		for _, a := range apis {
			known = append(known, authn.APIRef{Name: a.Name, Version: a.Version})
		}
		st.endpoint.Service = st.service.WithKnownAPIs(known)
	}
	var raw any
	if gh, ok := eng.Data()["gatehouse"].(map[string]any); ok {
		raw = gh["static_api_keys"]
	}
	keys, err := authn.ParseStaticAPIKeys(raw)
	if err != nil {
		return fmt.Errorf("%w: bundle data: gatehouse.static_api_keys: %w", bundles.ErrLoad, err)
	}
	st.static.Store(keys)
	return nil
}

// onAdmin reports whether the issuing endpoint is served on the admin
// listener.
func (st *apiKeyState) onAdmin() bool {
	return st.endpoint != nil && st.cfg.Endpoint.Listen == config.APIKeyListenAdmin
}

// authnConfig is the configuration of the generation's API key
// authenticators (apikeys.SectionConfig.AuthnConfig).
func (st *apiKeyState) authnConfig() authn.APIKeyConfig {
	return st.cfg.AuthnConfig(st.service, st.static.Load)
}

// routesAPIKeys adds the token service's routes to the admin listener: the
// published verification keys always (404 when api_keys is not
// configured), the issuing endpoint when it listens there.
func (s *Server) routesAPIKeys(m *http.ServeMux, admin bool) {
	m.HandleFunc("GET "+config.APIKeyJWKSPath, func(w http.ResponseWriter, _ *http.Request) {
		st := s.gen.Load().apiKeys
		if st == nil || st.service == nil {
			http.NotFound(w, nil)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "max-age=300")
		_, _ = w.Write(st.service.JWKS())
	})
	m.HandleFunc(config.APIKeyPath, func(w http.ResponseWriter, r *http.Request) {
		g, held := s.acquire()
		defer release(g, held)
		st := g.apiKeys
		if st == nil || st.endpoint == nil || st.onAdmin() != admin {
			http.NotFound(w, r)
			return
		}
		st.endpoint.ServeHTTP(w, r)
	})
}

// startAPIKeyListener opens the dedicated listener of the issuing endpoint,
// when it has one. Its certificate and client CAs come from the current
// generation at each handshake, so a reload rotates them; a changed listen
// address needs a restart.
func (s *Server) startAPIKeyListener(cfg *config.Config) error {
	if cfg.APIKeys == nil || cfg.APIKeys.Endpoint == nil || cfg.APIKeys.Endpoint.Listen == config.APIKeyListenAdmin {
		return nil
	}
	e := cfg.APIKeys.Endpoint
	mux := http.NewServeMux()
	s.routesAPIKeys(mux, false)
	addr, err := s.startSideListener("apikeys", e.Listen, mux, e.TLS != nil, s.apiKeysTLS)
	s.apiKeysAddr = addr
	return err
}

// startSideListener opens a dedicated listener for a small service of the
// gateway (API key issuing, the internal key manager): bounded timeouts and
// headers, and with TLS the configuration of the serving generation at each
// handshake, so a reload rotates certificates.
func (s *Server) startSideListener(name, address string, h http.Handler, useTLS bool,
	tlsFor func(*tls.ClientHelloInfo) (*tls.Config, error)) (net.Addr, error) {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("listen %s %s: %w", name, address, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          s.log.Named(name).StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
	}
	if useTLS {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetConfigForClient: tlsFor}
	}
	s.serve(srv, ln, useTLS)
	return ln.Addr(), nil
}

// apiKeysTLS is the dedicated listener's TLS configuration of the current
// generation: its certificate, and, with client CAs, a client certificate
// verified when given (Basic callers need none).
func (s *Server) apiKeysTLS(*tls.ClientHelloInfo) (*tls.Config, error) {
	st := s.gen.Load().apiKeys
	if st == nil || st.serverTLS == nil {
		return nil, errors.New("api keys endpoint: no certificate in this generation")
	}
	return st.serverTLS, nil
}

// APIKeysAddr is the address of the issuing endpoint's dedicated listener
// (nil when it has none).
func (s *Server) APIKeysAddr() net.Addr { return s.apiKeysAddr }

// APIKeyService builds the configured token service for offline use
// (`gatehouse apikey`): the keys and limits the gateway itself would use,
// issuing only for the APIs the config serves. It fails when the config has
// no api_keys section.
func APIKeyService(cfg *config.Config) (*apikeys.Service, error) {
	if cfg.APIKeys == nil {
		return nil, config.Errors{{File: cfg.Path, Pointer: "/api_keys", Msg: "the config has no api_keys section"}}
	}
	st, err := buildAPIKeys(cfg, hclog.NewNullLogger())
	if err != nil {
		return nil, err
	}
	known := make([]authn.APIRef, 0, len(cfg.APIs))
	for i, ac := range cfg.APIs {
		api, err := openapi.LoadAPI(ac, cfg.File(ac.OpenAPI))
		if err != nil {
			return nil, config.Errors{{File: cfg.Path, Pointer: fmt.Sprintf("/apis/%d/openapi", i), Msg: err.Error()}}
		}
		known = append(known, authn.APIRef{Name: api.Name, Version: api.Version})
	}
	return st.service.WithKnownAPIs(known), nil
}
