// Package check is `gatehouse check`: it builds everything `gatehouse run`
// builds from a config file without opening a listener, and reports every
// problem at once under the JSON pointer of the key that names it, the
// warnings (what run accepts but is probably a mistake) and, with -online,
// one probe per remote dependency. The generation itself is built by the
// gateway's wiring, handed in as a Builder, so that this package needs the
// config and what the build found, not the gateway.
package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"

	"github.com/gatehouse/gatehouse/authn/keymanager"
	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/bundles/decisionlog"
	"github.com/gatehouse/gatehouse/gateway/assertion"
	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/tracing"
	shared "github.com/gatehouse/gatehouse/internal/config"
)

// Options says how far `gatehouse check` goes.
type Options struct {
	// Online also probes what the config points at over the network:
	// remote key sets and discovery documents, key managers' introspection
	// endpoints, remote bundle services.
	Online bool
	// Logger receives the build's operational logs (default: none).
	Logger hclog.Logger
	// Build builds a generation as `run` would (gateway.BuildForCheck):
	// check needs the whole build but not the gateway's internals.
	Build Builder
}

// Report is what a successful check found.
type Report struct {
	APIs, Operations int
	Revision         string
	// Warnings do not stop `run` but are probably mistakes (an unused
	// scheme, a listen.address that opens nothing); `check --strict` fails
	// on them.
	Warnings config.Errors
	// Probes are the --online results, one line each, in config order.
	Probes []Probe
}

// Probe is one --online check of a remote dependency.
type Probe struct {
	Pointer string // the config key naming it
	What    string // e.g. `issuer "corp" keys https://…/jwks`
	Err     error  // nil: reachable and answering as expected
	Detail  string // on success: what it answered (key ids, bundle revision)
}

// File builds everything `run` builds — config (schema and semantic
// checks, all reported together), the identity-assertion key, decision-log
// and remote-bundle settings, listener addresses, TLS material, every API
// definition, authenticator and the compiled policy — without opening a
// listener, and reports every error it finds. What `run` refuses, File
// refuses (check_test.go holds it to that for every config in
// testdata/config/).
func File(ctx context.Context, path string, opts Options) (*Report, error) {
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	var errs config.Errors
	add := func(ptr string, err error) {
		var ak *shared.KeyError
		if errors.As(err, &ak) {
			ptr, err = ak.Pointer, ak.Err
		}
		errs = append(errs, &config.Error{File: cfg.Path, Pointer: ptr, Msg: err.Error()})
	}
	// What gateway.New builds besides the generation.
	if *cfg.UpstreamIdentity.Enabled {
		if _, err := assertion.Build(cfg.UpstreamIdentity, cfg.UpstreamIdentity.Files(cfg.File), nil); err != nil {
			add(config.IdentityKeyPointer(cfg.UpstreamIdentity), err)
		}
	}
	if cfg.Policy.DecisionLogs != nil {
		dl, err := decisionlog.New(cfg.Policy.DecisionLogs, decisionlog.Options{
			File: cfg.Path, Dir: cfg.Dir, IdentityHeader: cfg.UpstreamIdentity.Header,
			Services: remoteServices(cfg), Log: log, Metrics: prometheus.NewRegistry(),
		})
		if err != nil {
			add("/policy/decision_logs", err)
		} else {
			dl.Close(ctx)
		}
	}
	if cfg.Tracing != nil {
		if tp, err := tracing.New(ctx, cfg.Tracing, tracing.Options{Dir: cfg.Dir}); err != nil {
			add("/tracing", err)
		} else {
			_ = tp.Shutdown(ctx)
		}
	}
	var remote *bundles.Remote
	if cfg.Policy.Remote != nil {
		remote, err = bundles.NewRemote(cfg.Policy.Remote, bundles.RemoteOptions{
			File: cfg.Path, Dir: cfg.Dir, Log: log.Named("bundles"), Metrics: prometheus.NewRegistry(),
		})
		if err != nil {
			add("/policy/remote", err)
			remote = nil
		}
	}
	// What Server.Start opens.
	checkListenAddresses(cfg, add)

	var probes []Probe
	var remoteSources []*bundles.Source
	if opts.Online && remote != nil {
		probes, remoteSources = probeRemoteBundles(ctx, cfg, remote)
		defer remote.Stop(ctx)
	}
	// run opens the internal key manager's token store at start. check
	// only resolves what opening needs — a bbolt file would be created or
	// locked against a running gateway, Redis is the network — except that
	// -online connects to Redis as run does.
	var stores *keymanager.Stores
	if opts.Online && cfg.InternalKeyManager != nil && cfg.InternalKeyManager.Store.Type != keymanager.StoreFile {
		stores = keymanager.NewStores()
		defer func() { _ = stores.Close() }()
	} else {
		checkStoreOffline(cfg, add)
	}
	g, err := opts.Build(ctx, cfg, BuildOptions{Logger: log, Remote: remoteSources, KMStores: stores})
	if err != nil {
		var ces config.Errors
		if errors.As(err, &ces) {
			errs = append(errs, ces...)
		} else {
			add("", err)
		}
	}
	if len(errs) > 0 {
		if g != nil {
			_ = g.Close()
		}
		return nil, dedupeErrors(errs)
	}
	defer g.Close()
	rep := &Report{Revision: g.Revision(), APIs: len(g.APIs())}
	for _, a := range g.APIs() {
		rep.Operations += len(a.Operations)
	}
	raw, _ := os.ReadFile(path) // read a moment ago by LoadConfig
	rep.Warnings = checkWarnings(cfg, g, raw)
	if opts.Online {
		rep.Probes = append(probeKeySources(cfg, g), probes...)
		rep.Probes = append(rep.Probes, probeKeyManagers(ctx, cfg, g)...)
		if t := cfg.Tracing; t != nil {
			p := Probe{Pointer: "/tracing/endpoint", What: "tracing collector " + t.Endpoint + " (" + t.Exporter + ")",
				Err: tracing.Probe(ctx, t, cfg.Dir), Detail: "accepted an empty export"}
			rep.Probes = append(rep.Probes, p)
		}
	}
	return rep, nil
}

func remoteServices(cfg *config.Config) map[string]json.RawMessage {
	if cfg.Policy.Remote == nil {
		return nil
	}
	return cfg.Policy.Remote.Services
}

// checkListenAddresses refuses addresses `run` could never listen on. It
// does not bind them: check may run beside a live gateway.
func checkListenAddresses(cfg *config.Config, add func(string, error)) {
	check := func(ptr, addr string) {
		if addr == "" {
			return
		}
		_, port, err := net.SplitHostPort(addr)
		if err == nil {
			var n int
			n, err = strconv.Atoi(port)
			if err == nil && (n < 0 || n > 65535) {
				err = fmt.Errorf("port %d out of range", n)
			}
			if err != nil && port != "" {
				if _, lerr := net.LookupPort("tcp", port); lerr == nil {
					err = nil // a service name such as https
				}
			}
		}
		if err != nil {
			add(ptr, fmt.Errorf("cannot listen on %q: %w", addr, err))
		}
	}
	if cfg.Listen.TLS != nil {
		check("/listen/address", cfg.Listen.Address)
	}
	check("/listen/http_address", cfg.Listen.HTTPAddress)
	check("/admin/address", *cfg.Admin.Address)
	if cfg.APIKeys != nil && cfg.APIKeys.Endpoint != nil && cfg.APIKeys.Endpoint.Listen != config.APIKeyListenAdmin {
		check("/api_keys/endpoint/listen", cfg.APIKeys.Endpoint.Listen)
	}
	if k := cfg.InternalKeyManager; k != nil && k.Listen != config.InternalKMListenAdmin {
		check("/internal_key_manager/listen", k.Listen)
	}
}

// checkStoreOffline resolves the token store's passwords, CA and client
// certificate files without connecting.
func checkStoreOffline(cfg *config.Config, add func(string, error)) {
	k := cfg.InternalKeyManager
	if k == nil {
		return
	}
	if k.Store.Type == keymanager.StoreFile {
		// Opening would create (or lock) the file: its folder must exist.
		if k.Store.Path != "" {
			dir := filepath.Dir(cfg.File(k.Store.Path))
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				add("/internal_key_manager/store/path", fmt.Errorf("folder %s does not exist", dir))
			}
		}
		return
	}
	// resolves the passwords and reads the CA and client certificate files
	if _, err := k.Store.Config.Options(cfg.Dir, 0); err != nil {
		add("/internal_key_manager/store", err)
	}
}

// dedupeErrors drops repeated errors, keeping the first.
func dedupeErrors(errs config.Errors) config.Errors {
	seen := map[string]bool{}
	out := errs[:0]
	for _, e := range errs {
		if !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	return out
}

// rawListen is the part of the raw config the warnings need before
// defaults are applied.
type rawListen struct {
	Listen struct {
		Address *string        `json:"address"`
		TLS     map[string]any `json:"tls"`
	} `json:"listen"`
}

func parseRawListen(raw []byte) rawListen {
	var r rawListen
	if js, err := yaml.YAMLToJSON(raw); err == nil {
		_ = yaml.Unmarshal(js, &r)
	}
	return r
}

// probeTimeout bounds each --online probe.
const probeTimeout = 10 * time.Second
