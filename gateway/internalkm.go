package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/authn/keymanager"
	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// internalKMState is the internal key manager of one generation: the key
// manager (its configuration, its validation cache, the applications of
// the generation's bundle data) over the process-wide token store, and its
// dedicated listener's certificate.
type internalKMState struct {
	cfg       *config.InternalKeyManagerConfig
	km        *keymanager.KeyManager
	serverTLS *tls.Config // nil without tls
	store     keymanager.Store
	// owned is the store holder when this generation opened its own
	// (gatehouse check / explain); a Server's outlives generations.
	owned *keymanager.Stores
}

// buildInternalKM builds the internal key manager of cfg (nil without
// internal_key_manager). stores is the Server's holder; nil makes a private
// one that opens the store only when a token is validated (check never
// touches it; a running gateway may hold the file's lock).
func buildInternalKM(ctx context.Context, cfg *config.Config, log hclog.Logger, stores *keymanager.Stores) (*internalKMState, error) {
	k := cfg.InternalKeyManager
	if k == nil {
		return nil, nil
	}
	fail := func(ptr string, err error) error {
		return config.Errors{{File: cfg.Path, Pointer: "/internal_key_manager" + ptr, Msg: err.Error()}}
	}
	st := &internalKMState{cfg: k}
	lazy := stores == nil
	if lazy {
		stores = keymanager.NewStores()
		st.owned = stores
	}
	store, err := stores.Get(ctx, cfg.Dir, k.Store, lazy)
	if err != nil {
		return nil, fail("/store", err)
	}
	st.store = store
	if st.km, st.serverTLS, err = k.Build(cfg.Dir, store, log.Named("keymanager")); err != nil {
		return nil, sectionError(cfg, "/internal_key_manager", err)
	}
	return st, nil
}

// finish hands the key manager its applications from the generation's
// bundle data, those under its name (applications are keyed by identity
// source); a malformed client fails the whole generation (the previous one
// keeps serving).
func (st *internalKMState) finish(eng *bundles.Engine) error {
	if st == nil {
		return nil
	}
	var raw any
	if gh, ok := eng.Data()["gatehouse"].(map[string]any); ok {
		if bySource, ok := gh["applications"].(map[string]any); ok {
			raw = bySource[st.km.Name()]
		}
	}
	apps, err := keymanager.ParseApplications(raw)
	if err != nil {
		return fmt.Errorf("%w: bundle data: gatehouse.applications[%q]: %w", bundles.ErrLoad, st.km.Name(), err)
	}
	st.km.SetApplications(apps)
	return nil
}

// Close closes a store this generation opened itself.
func (st *internalKMState) Close() error {
	if st == nil || st.owned == nil {
		return nil
	}
	return st.owned.Close()
}

func (st *internalKMState) onAdmin() bool { return st.cfg.Listen == config.InternalKMListenAdmin }

// KeyManager returns the generation's internal key manager (nil when not
// configured), for tests and tools.
func (g *Generation) KeyManager() *keymanager.KeyManager {
	if g.internalKM == nil {
		return nil
	}
	return g.internalKM.km
}

// routesKeyManager mounts the internal key manager's endpoints; each
// request goes to the serving generation's key manager (404 when it has
// none, or when it listens elsewhere).
func (s *Server) routesKeyManager(m *http.ServeMux, admin bool) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, held := s.acquire()
		defer release(g, held)
		st := g.internalKM
		if st == nil || st.onAdmin() != admin {
			http.NotFound(w, r)
			return
		}
		st.km.ServeHTTP(w, r)
	})
	for _, p := range keymanager.Paths {
		m.Handle(p, h)
	}
}

// startKeyManagerListener opens the internal key manager's dedicated
// listener, if it has one. Its certificate comes from the serving
// generation at each handshake; a changed address needs a restart.
func (s *Server) startKeyManagerListener(cfg *config.Config) error {
	k := cfg.InternalKeyManager
	if k == nil || k.Listen == config.InternalKMListenAdmin {
		return nil
	}
	mux := http.NewServeMux()
	s.routesKeyManager(mux, false)
	addr, err := s.startSideListener("keymanager", k.Listen, mux, k.TLS != nil, s.keyManagerTLS)
	s.keyManagerAddr = addr
	return err
}

func (s *Server) keyManagerTLS(*tls.ClientHelloInfo) (*tls.Config, error) {
	st := s.gen.Load().internalKM
	if st == nil || st.serverTLS == nil {
		return nil, errors.New("internal key manager: no certificate in this generation")
	}
	return st.serverTLS, nil
}

// KeyManagerAddr is the internal key manager's dedicated listener address
// (nil when it is on the admin listener or not configured).
func (s *Server) KeyManagerAddr() net.Addr { return s.keyManagerAddr }
