package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/bundles/decisionlog"
)

// WatchConfig: reload on file changes (fsnotify), besides SIGHUP.
type WatchConfig struct {
	// Enabled watches the config file and every file it references
	// (default true for `gatehouse run`).
	Enabled *bool `json:"enabled"`
	// Debounce is how long changes must have stopped before a reload.
	Debounce Duration `json:"debounce"`
}

// RemoteConfig is policy.remote (bundles/remote_config.go).
type RemoteConfig = bundles.RemoteConfig

// DecisionLogConfig is policy.decision_logs (bundles/decisionlog/config.go).
type DecisionLogConfig = decisionlog.Config

// Defaults of the watch, remote and decision-log sections.
const (
	DefaultWatchDebounce         = bundles.DefaultWatchDebounce
	DefaultRemoteStartupTimeout  = bundles.DefaultRemoteStartupTimeout
	DefaultDecisionLogBufferSize = decisionlog.DefaultBufferSize
)

func (c *Config) applyBundleDefaults() {
	if c.Watch.Enabled == nil {
		t := true
		c.Watch.Enabled = &t
	}
	setDur(&c.Watch.Debounce, DefaultWatchDebounce)
	if r := c.Policy.Remote; r != nil {
		r.ApplyDefaults()
	}
	if d := c.Policy.DecisionLogs; d != nil {
		d.ApplyDefaults()
	}
}

func (c *Config) checkBundles() Errors {
	var errs Errors
	add := func(ptr, format string, args ...any) {
		errs = append(errs, &Error{File: c.Path, Pointer: ptr, Msg: fmt.Sprintf(format, args...)})
	}
	r := c.Policy.Remote
	if r != nil {
		r.Check(add)
	}
	if d := c.Policy.DecisionLogs; d != nil && d.Service != "" {
		if r == nil || r.Services[d.Service] == nil {
			add("/policy/decision_logs/service", "unknown service %q (define it in policy.remote.services)", d.Service)
		}
	}
	return errs
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
			case strings.HasSuffix(tag, "_file") || strings.HasSuffix(tag, "_files") || tag == "openapi" || tag == "bundles" || tag == "key_dir":
				out = append(out, c.File(s))
			}
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	sort.Strings(out)
	return out
}
