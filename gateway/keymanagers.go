package gateway

import (
	"fmt"

	"github.com/gatehouse/gatehouse/authn"
)

// extKeyManagers names, on an OpenAPI securityScheme, the key managers
// that validate its opaque tokens in this API (instead of
// schemes.<name>.key_managers).
const extKeyManagers = "x-gatehouse-key-managers"

// schemeKeyManagers returns the key manager names of a bearer scheme: the
// API definition's x-gatehouse-key-managers when present, else the config's.
func schemeKeyManagers(def *SchemeDef, sc SchemeConfig) ([]string, error) {
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
	var kc *KeyManagerConfig
	ptr := ""
	for i := range f.cfg.KeyManagers {
		if f.cfg.KeyManagers[i].Name == name {
			kc, ptr = &f.cfg.KeyManagers[i], fmt.Sprintf("/key_managers/%d", i)
		}
	}
	if kc == nil {
		return nil, fmt.Errorf("unknown key manager %q", name)
	}
	ic := kc.introspectionConfig()
	ic.Logger = f.log.Named("authn.introspection").With("key_manager", name)
	var err error
	secretKey := ptr + "/client_secret"
	if kc.AuthMethod == authn.AuthBearer {
		secretKey = ptr + "/bearer_token"
		ic.BearerToken, err = kc.BearerToken.Resolve(f.cfg.Dir)
	} else {
		ic.ClientSecret, err = kc.ClientSecret.Resolve(f.cfg.Dir)
	}
	if err != nil {
		return nil, atKey(secretKey, fmt.Errorf("key manager %q: %w", name, err))
	}
	if len(kc.CAFiles) > 0 {
		if ic.RootCAs, err = loadCAPool(f.cfg, kc.CAFiles); err != nil {
			return nil, atKey(ptr+"/ca_files", fmt.Errorf("key manager %q: ca_files: %w", name, err))
		}
	}
	km, err := authn.NewIntrospection(ic)
	if err != nil {
		return nil, atKey(ptr, fmt.Errorf("key manager %q: %w", name, err))
	}
	f.closers = append(f.closers, km)
	f.keyManagers[name] = km
	return km, nil
}
