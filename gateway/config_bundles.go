package gateway

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// WatchConfig: reload on file changes (fsnotify), besides SIGHUP.
type WatchConfig struct {
	// Enabled watches the config file and every file it references
	// (default true for `gatehouse run`).
	Enabled *bool `json:"enabled"`
	// Debounce is how long changes must have stopped before a reload.
	Debounce Duration `json:"debounce"`
}

// RemoteConfig is OPA's own configuration for bundle services, bundles and
// verification keys, passed to OPA's download machinery as is (see
// https://www.openpolicyagent.org/docs/configuration), plus where the last
// good bundle is kept.
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
	StartupTimeout Duration `json:"startup_timeout"`
}

// DecisionLogConfig: one decision record per request, in OPA's
// decision-log format.
type DecisionLogConfig struct {
	// Console writes records to the process log (logger "decisions").
	Console bool `json:"console"`
	// File appends records as JSON lines.
	File string `json:"file"`
	// Service names a service of policy.remote.services that receives the
	// records through OPA's decision-log upload (gzip JSON array POSTs).
	Service string `json:"service"`
	// Resource is the upload path on the service (OPA's default /logs).
	Resource string `json:"resource"`
	// Reporting is OPA's decision_logs.reporting block, as is.
	Reporting json.RawMessage `json:"reporting"`
	// BufferSize bounds the queue between requests and the writer; when
	// full, records are dropped and counted, never waited for.
	BufferSize int `json:"buffer_size"`
	// MaskHeaders are request header names (lowercase) erased from records
	// on top of the defaults (see defaultMaskedHeaders).
	MaskHeaders []string `json:"mask_headers"`
}

// Defaults of the watch, remote and decision-log sections.
const (
	DefaultWatchDebounce         = 200 * time.Millisecond
	DefaultRemoteStartupTimeout  = 30 * time.Second
	DefaultDecisionLogBufferSize = 10000
)

func (c *Config) applyBundleDefaults() {
	if c.Watch.Enabled == nil {
		t := true
		c.Watch.Enabled = &t
	}
	setDur(&c.Watch.Debounce, DefaultWatchDebounce)
	if r := c.Policy.Remote; r != nil {
		setDur(&r.StartupTimeout, DefaultRemoteStartupTimeout)
	}
	if d := c.Policy.DecisionLogs; d != nil && d.BufferSize == 0 {
		d.BufferSize = DefaultDecisionLogBufferSize
	}
}

// secretCredentialKeys are members of OPA service credentials that hold a
// secret: like every secret in our config they must be env:/file: references.
var secretCredentialKeys = map[string]bool{
	"token": true, "client_secret": true, "password": true, "private_key_passphrase": true,
	"secret_access_key": true, "session_token": true, "client_assertion": true,
}

func (c *Config) checkBundles() ConfigErrors {
	var errs ConfigErrors
	add := func(ptr, format string, args ...any) {
		errs = append(errs, &ConfigError{File: c.Path, Pointer: ptr, Msg: fmt.Sprintf(format, args...)})
	}
	r := c.Policy.Remote
	if r != nil {
		for name, raw := range r.Services {
			var svc map[string]any
			if err := json.Unmarshal(raw, &svc); err != nil {
				add("/policy/remote/services/"+escapePointer(name), "not an object: %v", err)
				continue
			}
			walkSecrets(svc["credentials"], "/policy/remote/services/"+escapePointer(name)+"/credentials", func(ptr string) {
				add(ptr, "a secret must be an env:NAME or file:PATH reference, not a literal")
			})
		}
		persist := false
		for name, raw := range r.Bundles {
			var b struct {
				Service  string `json:"service"`
				Resource string `json:"resource"`
				Persist  bool   `json:"persist"`
			}
			ptr := "/policy/remote/bundles/" + escapePointer(name)
			if err := json.Unmarshal(raw, &b); err != nil {
				add(ptr, "not an object: %v", err)
				continue
			}
			if _, ok := r.Services[b.Service]; !ok && len(r.Services) != 1 {
				add(ptr+"/service", "unknown service %q", b.Service)
			}
			if strings.HasPrefix(b.Resource, "file:") {
				add(ptr+"/resource", "local bundles go in policy.bundles (watched), not in policy.remote")
			}
			persist = persist || b.Persist
		}
		if persist && r.PersistenceDirectory == "" {
			add("/policy/remote/persistence_directory", "a bundle has persist: true: set persistence_directory")
		}
	}
	if d := c.Policy.DecisionLogs; d != nil && d.Service != "" {
		if r == nil || r.Services[d.Service] == nil {
			add("/policy/decision_logs/service", "unknown service %q (define it in policy.remote.services)", d.Service)
		}
	}
	return errs
}

// walkSecrets reports every literal string under a secret-bearing key.
func walkSecrets(v any, ptr string, bad func(ptr string)) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, x := range m {
		p := ptr + "/" + escapePointer(k)
		if s, ok := x.(string); ok && secretCredentialKeys[k] {
			if !strings.HasPrefix(s, "env:") && !strings.HasPrefix(s, "file:") {
				bad(p)
			}
			continue
		}
		walkSecrets(x, p, bad)
	}
}

// Files lists every file and directory the generation built from this
// config reads — the config itself, API definitions, bundles, and every
// field named *_file or *_files (and file: secrets), resolved against the
// config's directory. The watcher reloads when any of them changes, so a
// new file-valued key is watched as soon as it follows that naming.
func (c *Config) Files() []string {
	out := []string{c.Path}
	var walk func(v reflect.Value, tag string)
	walk = func(v reflect.Value, tag string) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem(), tag)
			}
		case reflect.Struct:
			t := v.Type()
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				if !f.IsExported() {
					continue
				}
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if name == "-" {
					continue
				}
				walk(v.Field(i), name)
			}
		case reflect.Slice:
			if v.Type().Elem().Kind() == reflect.Uint8 {
				return // json.RawMessage
			}
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), tag)
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(v.MapIndex(k), tag)
			}
		case reflect.String:
			s := v.String()
			switch {
			case s == "":
			case v.Type() == reflect.TypeOf(Secret("")):
				if p, ok := strings.CutPrefix(s, "file:"); ok {
					out = append(out, c.File(p))
				}
			case strings.HasSuffix(tag, "_file") || strings.HasSuffix(tag, "_files") || tag == "openapi" || tag == "bundles":
				out = append(out, c.File(s))
			}
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	sort.Strings(out)
	return out
}
