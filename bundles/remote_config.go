package bundles

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

// RemoteConfig (policy.remote) is OPA's own configuration for bundle
// services, bundles and verification keys, passed to OPA's download
// machinery as is (see https://www.openpolicyagent.org/docs/configuration),
// plus where the last good bundle is kept.
type RemoteConfig struct {
	Services map[string]json.RawMessage `json:"services"`
	Bundles  map[string]json.RawMessage `json:"bundles"`
	Keys     map[string]json.RawMessage `json:"keys"`
	// PersistenceDirectory holds <bundle>/bundle.tar.gz of every bundle with
	// persist: true, so a restart while the bundle service is down serves
	// the last activated bundle.
	PersistenceDirectory string `json:"persistence_directory"`
	// StartupTimeout bounds the wait for the first download of each bundle
	// at start; without a download or a persisted copy the gateway does not
	// start (it would decide without the bundle's rules and data).
	StartupTimeout config.Duration `json:"startup_timeout"`
}

// DefaultRemoteStartupTimeout is policy.remote.startup_timeout's default.
const DefaultRemoteStartupTimeout = 30 * time.Second

// ApplyDefaults fills unset values.
func (rc *RemoteConfig) ApplyDefaults() {
	config.SetDefault(&rc.StartupTimeout, DefaultRemoteStartupTimeout)
}

// secretCredentialKeys are members of OPA service credentials that hold a
// secret: like every secret in our config they must be env:/file: references.
var secretCredentialKeys = map[string]bool{
	"token": true, "client_secret": true, "password": true, "private_key_passphrase": true,
	"secret_access_key": true, "session_token": true, "client_assertion": true,
}

// Check reports problems of policy.remote that need no other file; add
// takes a JSON pointer below the document root.
func (rc *RemoteConfig) Check(add func(ptr, format string, args ...any)) {
	for name, raw := range rc.Services {
		var svc map[string]any
		if err := json.Unmarshal(raw, &svc); err != nil {
			add("/policy/remote/services/"+config.EscapePointer(name), "not an object: %v", err)
			continue
		}
		walkSecrets(svc["credentials"], "/policy/remote/services/"+config.EscapePointer(name)+"/credentials", func(ptr string) {
			add(ptr, "a secret must be an env:NAME or file:PATH reference, not a literal")
		})
	}
	persist := false
	for name, raw := range rc.Bundles {
		var b struct {
			Service  string `json:"service"`
			Resource string `json:"resource"`
			Persist  bool   `json:"persist"`
		}
		ptr := "/policy/remote/bundles/" + config.EscapePointer(name)
		if err := json.Unmarshal(raw, &b); err != nil {
			add(ptr, "not an object: %v", err)
			continue
		}
		if _, ok := rc.Services[b.Service]; !ok && len(rc.Services) != 1 {
			add(ptr+"/service", "unknown service %q", b.Service)
		}
		if strings.HasPrefix(b.Resource, "file:") {
			add(ptr+"/resource", "local bundles go in policy.bundles (watched), not in policy.remote")
		}
		persist = persist || b.Persist
	}
	if persist && rc.PersistenceDirectory == "" {
		add("/policy/remote/persistence_directory", "a bundle has persist: true: set persistence_directory")
	}
}

// walkSecrets reports every literal string under a secret-bearing key.
func walkSecrets(v any, ptr string, bad func(ptr string)) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, x := range m {
		p := ptr + "/" + config.EscapePointer(k)
		if s, ok := x.(string); ok && secretCredentialKeys[k] {
			if !strings.HasPrefix(s, "env:") && !strings.HasPrefix(s, "file:") {
				bad(p)
			}
			continue
		}
		walkSecrets(x, p, bad)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of json.RawMessage always marshal
	}
	return b
}

// ResolveServiceSecrets replaces env:/file: references in a service's
// credentials with their values (config checks refused literals).
func ResolveServiceSecrets(raw json.RawMessage, dir string) ([]byte, error) {
	var svc map[string]any
	if err := json.Unmarshal(raw, &svc); err != nil {
		return nil, err
	}
	var walk func(v any) error
	walk = func(v any) error {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for k, x := range m {
			if s, ok := x.(string); ok && secretCredentialKeys[k] {
				val, err := config.Secret(s).Resolve(dir)
				if err != nil {
					return fmt.Errorf("credentials %s: %w", k, err)
				}
				m[k] = val.Reveal()
				continue
			}
			if err := walk(x); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(svc["credentials"]); err != nil {
		return nil, err
	}
	return json.Marshal(svc)
}
