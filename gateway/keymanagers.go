package gateway

import (
	"crypto/x509"
	"fmt"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// extKeyManagers names, on an OpenAPI securityScheme, the key managers
// that validate its opaque tokens in this API (instead of
// schemes.<name>.key_managers).
const extKeyManagers = "x-gatehouse-key-managers"

// schemeKeyManagers returns the key manager names of a bearer scheme: the
// API definition's x-gatehouse-key-managers when present, else the config's.
func schemeKeyManagers(def *SchemeDef, sc config.SchemeConfig) ([]string, error) {
	return schemeNames(def, sc, extKeyManagers, sc.KeyManagers, "key manager")
}

// keyManager returns the generation's key manager called name, building it
// on first use: schemes that list the same key manager share its cache,
// its in-flight calls and its circuit breaker.
func (f *authnFactory) keyManager(name string) (authn.KeyManager, error) {
	if km, ok := f.keyManagers[name]; ok {
		return km, nil
	}
	if f.keyManagers == nil {
		f.keyManagers = map[string]authn.KeyManager{}
	}
	var kc *authn.KeyManagerConfig
	ptr := ""
	for i := range f.cfg.KeyManagers {
		if f.cfg.KeyManagers[i].Name == name {
			kc, ptr = &f.cfg.KeyManagers[i], fmt.Sprintf("/key_managers/%d", i)
		}
	}
	if kc == nil {
		return nil, fmt.Errorf("unknown key manager %q", name)
	}
	km, err := kc.NewIntrospection(authn.KeyManagerFiles{
		Pointer: ptr,
		Dir:     f.cfg.Dir,
		CAPool:  func(files []string) (*x509.CertPool, error) { return loadCAPool(f.cfg, files) },
		Logger:  f.log.Named("authn.introspection").With("key_manager", name),
	})
	if err != nil {
		return nil, err
	}
	f.closers = append(f.closers, km)
	f.keyManagers[name] = km
	return km, nil
}
