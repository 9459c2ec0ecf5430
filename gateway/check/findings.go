package check

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/keymanager"
	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/config"
	shared "github.com/gatehouse/gatehouse/internal/config"
)

// checkWarnings finds what `run` accepts but is probably a mistake: names
// configured but used by no operation (a typo such as petJWT for petsJWT
// shows up here, not only as "schemes.petsJWT is not configured"), an
// HTTPS address with no TLS to serve it, two issuers with the same iss.
func checkWarnings(cfg *config.Config, g Generation, raw []byte) config.Errors {
	var out config.Errors
	warn := func(ptr, format string, args ...any) {
		out = append(out, &config.Error{File: cfg.Path, Pointer: ptr, Msg: fmt.Sprintf(format, args...)})
	}
	usedSchemes := map[string]bool{}
	for _, a := range g.APIs() {
		for _, op := range a.Operations {
			for _, s := range op.Schemes {
				usedSchemes[s] = true
			}
		}
	}
	var used []string
	for s := range usedSchemes {
		used = append(used, s)
	}
	sort.Strings(used)
	names := make([]string, 0, len(cfg.Schemes))
	for name := range cfg.Schemes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !usedSchemes[name] {
			warn("/schemes/"+shared.EscapePointer(name), "scheme %q is configured but no operation of any API uses it (the API definitions use: %s)",
				name, orNone(used))
		}
	}
	for i, is := range cfg.Issuers {
		if !g.UsesIssuer(is.Name) {
			warn(fmt.Sprintf("/issuers/%d", i), "issuer %q is configured but no scheme an operation uses trusts it", is.Name)
		}
		for j := range i {
			if cfg.Issuers[j].Issuer == is.Issuer {
				warn(fmt.Sprintf("/issuers/%d/issuer", i), "issuer %q has the same iss %q as /issuers/%d", is.Name, is.Issuer, j)
			}
		}
	}
	for i, km := range cfg.KeyManagers {
		if _, ok := g.KeyManager(km.Name); !ok {
			warn(fmt.Sprintf("/key_managers/%d", i), "key manager %q is configured but no scheme an operation uses calls it", km.Name)
		}
	}
	routes := map[string]bool{}
	for _, km := range cfg.KeyManagers {
		routes[km.Name] = km.TokenPrefix != "" || km.TokenPattern != ""
	}
	for _, name := range names {
		kms := cfg.Schemes[name].KeyManagers
		unrouted := 0
		for _, km := range kms {
			if !routes[km] {
				unrouted++
			}
		}
		if unrouted > 1 {
			warn("/schemes/"+shared.EscapePointer(name)+"/key_managers", "scheme %q sends opaque tokens to %d key managers in turn (%s): a token of one reaches the others; set token_prefix or token_pattern on them",
				name, unrouted, strings.Join(kms, ", "))
		}
	}
	identityKeyWarnings(cfg, warn)
	rl := parseRawListen(raw)
	if rl.Listen.Address != nil && rl.Listen.TLS == nil {
		warn("/listen/address", "listen.address %q is set but listen.tls is not, so no HTTPS listener is opened; add listen.tls, or use listen.http_address for plain HTTP",
			*rl.Listen.Address)
	}
	if l := cfg.Listen; l.HTTPAddress != "" && l.AllowCredentialsOverHTTP {
		warn("/listen/allow_credentials_over_http", "passwords, API keys and bearer tokens are accepted over plain HTTP on %s: only a TLS-terminating balancer on this host or a private network may reach it", l.HTTPAddress)
	}
	return out
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// probeKeySources reports each remote key set the build fetched (the build
// waits for the first fetch of each).
func probeKeySources(cfg *config.Config, g Generation) []Probe {
	var out []Probe
	for _, s := range g.KeySources() {
		st := s.Status()
		p := Probe{Pointer: issuerPointer(cfg, st.Issuer), What: fmt.Sprintf("issuer %q keys %s", st.Issuer, st.URL)}
		if st.Available {
			p.Detail = fmt.Sprintf("%d key(s): %s", len(st.Keys), strings.Join(st.Keys, ", "))
		} else {
			msg := st.LastError
			if msg == "" {
				msg = "no usable key set"
			}
			p.Err = errors.New(msg)
		}
		out = append(out, p)
	}
	return out
}

func issuerPointer(cfg *config.Config, name string) string {
	for i, is := range cfg.Issuers {
		if is.Name == name {
			return fmt.Sprintf("/issuers/%d", i)
		}
	}
	return "/issuers"
}

// probeKeyManagers asks each key manager about a token it cannot know: an
// inactive answer proves the endpoint, the gateway's credentials and the
// answer format; a technical failure is what requests would get (503).
func probeKeyManagers(ctx context.Context, cfg *config.Config, g Generation) []Probe {
	var out []Probe
	for i, kc := range cfg.KeyManagers {
		km, ok := g.KeyManager(kc.Name)
		if !ok {
			continue
		}
		p := Probe{Pointer: fmt.Sprintf("/key_managers/%d", i), What: fmt.Sprintf("key manager %q %s", kc.Name, kc.IntrospectionURL)}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		_, err := km.Validate(pctx, "gatehouse-check-probe-not-a-token")
		cancel()
		var rej *authn.Rejection
		switch {
		case err == nil:
			p.Err = errors.New("it called a made-up token active")
		case errors.As(err, &rej):
			p.Detail = "answered: " + string(rej.Reason)
		default:
			p.Err = err
		}
		out = append(out, p)
	}
	return out
}

// probeRemoteBundles downloads each remote bundle once, as `run` does at
// start (persisted copies count, as they do for run), and returns them for
// the build.
func probeRemoteBundles(ctx context.Context, cfg *config.Config, r *bundles.Remote) ([]Probe, []*bundles.Source) {
	err := r.Start(ctx, cfg.Policy.Remote.StartupTimeout.D())
	snap := r.Snapshot()
	names := make([]string, 0, len(snap))
	for n := range snap {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []Probe
	for _, n := range names {
		st := snap[n]
		p := Probe{Pointer: "/policy/remote/bundles/" + shared.EscapePointer(n), What: "bundle " + n}
		switch {
		case st.Revision != "":
			p.Detail = fmt.Sprintf("revision %s (%s)", st.Revision, st.From)
		case st.LastError != "":
			p.Err = errors.New(st.LastError)
		default:
			p.Err = errors.New("no answer within startup_timeout")
		}
		out = append(out, p)
	}
	if err != nil && len(out) == 0 {
		out = append(out, Probe{Pointer: "/policy/remote", What: "remote bundles", Err: err})
	}
	return out, r.Initial()
}

// fleetSignals names what in cfg says that more than one replica will run:
// state shared through Redis is only needed by a fleet.
func fleetSignals(cfg *config.Config) []string {
	var out []string
	if km := cfg.InternalKeyManager; km != nil && km.Store.Type == keymanager.StoreRedis {
		out = append(out, "internal_key_manager.store is redis")
	}
	if rl := cfg.RateLimits; rl != nil && rl.Redis != nil {
		out = append(out, "rate_limits.redis is set")
	}
	return out
}

// identityKeyWarnings warns when replicas would each sign identity
// assertions with a key of their own: an upstream that holds one replica's
// key set then rejects requests routed through the others.
func identityKeyWarnings(cfg *config.Config, warn func(ptr, format string, args ...any)) {
	ui := cfg.UpstreamIdentity
	if ui.Enabled == nil || !*ui.Enabled || ui.Shared() {
		return
	}
	if sig := fleetSignals(cfg); len(sig) > 0 {
		warn("/upstream_identity", "no key_file: each replica signs identity assertions with a key it generates, so an upstream holding one replica's key set rejects the others' (%s, so more than one replica is expected); give every replica the same key_file (README: Operating a fleet)",
			orNone(sig))
	}
}
