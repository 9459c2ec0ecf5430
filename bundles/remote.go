package bundles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/download"
	"github.com/open-policy-agent/opa/v1/keys"
	"github.com/open-policy-agent/opa/v1/plugins"
	opabundle "github.com/open-policy-agent/opa/v1/plugins/bundle"
	"github.com/open-policy-agent/opa/v1/plugins/rest"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/config"
)

// ErrRemoteBundle: a remote bundle could not be obtained at start.
var ErrRemoteBundle = errors.New("remote bundle unavailable")

// Remote owns OPA's downloaders for policy.remote: polling or long
// polling with ETags, signature verification with the configured keys, and
// the last activated bundle of each name (in memory and, with persist: true,
// on disk). It belongs to the Server and outlives generations: every
// generation is built from the bundles activated so far.
type Remote struct {
	log     hclog.Logger
	dir     string // persistence directory ("" when none)
	sources map[string]*opabundle.Source
	dls     map[string]downloader
	// activate builds a generation with one new bundle; set by the Server.
	activate func(ctx context.Context, name string, src *Source) error

	mu      sync.Mutex
	active  map[string]*Source // in the serving generation
	pending map[string]*Source // downloaded before the first generation
	status  map[string]*RemoteStatus
	first   map[string]chan struct{} // closed at the first download result
	started bool

	downloads *prometheus.CounterVec
}

// downloader is OPA's HTTP or OCI bundle downloader.
type downloader interface {
	Start(context.Context)
	Stop(context.Context)
}

// RemoteStatus is what /readyz shows per remote bundle.
type RemoteStatus struct {
	Revision    string    `json:"revision,omitempty"`
	From        string    `json:"from,omitempty"` // "download" or "persisted"
	ETag        string    `json:"etag,omitempty"`
	LastActive  time.Time `json:"last_activated,omitzero"`
	LastCheck   time.Time `json:"last_check,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Downloads   int       `json:"downloads"`
	NotModified int       `json:"not_modified"`
	Failures    int       `json:"failures"`
	// rejected: the newest download did not build, so its error stays
	// visible through the 304s that follow (the ETag is kept).
	rejected bool
	// Unchanged counts downloads whose content equalled the last one
	// (a server without ETags); they build nothing.
	Unchanged int `json:"unchanged"`
	// hash is the ContentHash of the last download (active or rejected).
	hash string
}

// RemoteOptions is what NewRemote needs besides policy.remote itself.
type RemoteOptions struct {
	// File is the config file (for errors); Dir resolves relative paths.
	File, Dir string
	Log       hclog.Logger
	Metrics   prometheus.Registerer
}

// NewRemote parses policy.remote with OPA's own parsers (services, keys,
// bundles) and prepares one downloader per bundle; nothing runs until
// Start.
func NewRemote(rc *RemoteConfig, o RemoteOptions) (*Remote, error) {
	log := o.Log
	fail := func(ptr string, err error) error {
		return config.Errors{{File: o.File, Pointer: "/policy/remote" + ptr, Msg: err.Error()}}
	}
	keyCfg, err := keys.ParseKeysConfig(mustJSON(rc.Keys))
	if err != nil {
		return nil, fail("/keys", err)
	}
	opaLog := NewOPALogger(log)
	clients := map[string]rest.Client{}
	names := make([]string, 0, len(rc.Services))
	for name, raw := range rc.Services {
		resolved, err := ResolveServiceSecrets(raw, o.Dir)
		if err != nil {
			return nil, fail("/services/"+config.EscapePointer(name), err)
		}
		c, err := rest.New(resolved, keyCfg, rest.Name(name), rest.Logger(opaLog))
		if err != nil {
			return nil, fail("/services/"+config.EscapePointer(name), err)
		}
		clients[name] = c
		names = append(names, name)
	}
	sort.Strings(names)
	periodic := plugins.TriggerPeriodic
	bc, err := opabundle.NewConfigBuilder().
		WithBytes(mustJSON(rc.Bundles)).
		WithServices(names).
		WithKeyConfigs(keyCfg).
		WithTriggerMode(&periodic).
		Parse()
	if err != nil {
		return nil, fail("/bundles", err)
	}
	r := &Remote{
		log:     log,
		sources: bc.Bundles,
		dls:     map[string]downloader{},
		active:  map[string]*Source{},
		pending: map[string]*Source{},
		status:  map[string]*RemoteStatus{},
		first:   map[string]chan struct{}{},
		downloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_bundle_downloads_total",
			Help: "Remote bundle downloads by bundle and result (activated, not_modified, unchanged, download_failed, rejected).",
		}, []string{"bundle", "result"}),
	}
	if rc.PersistenceDirectory != "" {
		r.dir = config.ResolvePath(o.Dir, rc.PersistenceDirectory)
	}
	if err := o.Metrics.Register(r.downloads); err != nil {
		return nil, err
	}
	parser := ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: Capabilities()}
	for name, src := range bc.Bundles {
		if src.Signing != nil && !src.Signing.SignatureRequired() {
			log.Warn("keys are configured but bundle has no signing block: unsigned bundles are accepted", "bundle", name)
		}
		r.status[name] = &RemoteStatus{}
		r.first[name] = make(chan struct{})
		cb := func(ctx context.Context, u download.Update) error { return r.update(ctx, name, u) }
		client := clients[src.Service]
		if strings.EqualFold(client.Config().Type, "oci") {
			// An OCI registry: OPA's OCI downloader, with its layer store
			// beside the persisted bundles (a temp directory without one).
			store := ""
			if r.dir != "" {
				store = filepath.Join(r.dir, ".oci")
			}
			r.dls[name] = download.NewOCI(src.Config, client, src.Resource, store).
				WithCallback(cb).
				WithBundleVerificationConfig(src.Signing).
				WithSizeLimitBytes(src.SizeLimitBytes).
				WithBundlePersistence(src.Persist).
				WithBundleParserOpts(parser)
			continue
		}
		r.dls[name] = download.New(src.Config, client, src.Resource).
			WithCallback(cb).
			WithBundleVerificationConfig(src.Signing).
			WithSizeLimitBytes(src.SizeLimitBytes).
			WithBundlePersistence(src.Persist).
			WithBundleParserOpts(parser).
			WithBundleName(name)
	}
	return r, nil
}

// Start loads persisted bundles, starts the downloaders, and waits until
// every bundle is available (downloaded or persisted) or timeout passes.
func (r *Remote) Start(ctx context.Context, timeout time.Duration) error {
	for name, src := range r.sources {
		if !src.Persist || r.dir == "" {
			continue
		}
		s, err := r.readPersisted(name, src)
		if err != nil {
			r.log.Warn("persisted bundle unusable; waiting for a download", "bundle", name, "error", err.Error())
			continue
		}
		if s != nil {
			r.mu.Lock()
			r.pending[name] = s
			st := r.status[name]
			st.Revision, st.From, st.hash = s.Revision(), "persisted", ContentHash(s.Bundle)
			r.mu.Unlock()
			r.log.Info("persisted bundle loaded", "bundle", name, "revision", st.Revision)
		}
	}
	r.mu.Lock()
	r.started = true
	r.mu.Unlock()
	for _, d := range r.dls {
		d.Start(ctx)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for name := range r.sources {
		r.mu.Lock()
		_, have := r.pending[name]
		r.mu.Unlock()
		if have {
			continue
		}
		for {
			select {
			case <-r.first[name]:
			case <-deadline.C:
				return r.unavailable(name)
			case <-ctx.Done():
				return ctx.Err()
			}
			r.mu.Lock()
			_, have = r.pending[name]
			r.mu.Unlock()
			if have {
				break
			}
			// The first attempt failed; the downloader retries with
			// backoff. Wait for the next result.
			r.mu.Lock()
			r.first[name] = make(chan struct{})
			r.mu.Unlock()
		}
	}
	return nil
}

func (r *Remote) unavailable(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	msg := "no download yet"
	if e := r.status[name].LastError; e != "" {
		msg = e
	}
	return fmt.Errorf("%w: %s: %s, and no persisted copy", ErrRemoteBundle, name, msg)
}

// Initial returns the bundles for the first generation.
func (r *Remote) Initial() []*Source {
	r.mu.Lock()
	defer r.mu.Unlock()
	return sortedSources(r.pending)
}

// Activated records the bundles of the first generation as active and
// installs the activation function for later downloads. It returns bundles
// downloaded after Initial() was taken, which still need activating.
func (r *Remote) Activated(used []*Source, activate func(context.Context, string, *Source) error) []*Source {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range used {
		r.active[s.Name] = s
		r.status[s.Name].LastActive = time.Now()
	}
	var late []*Source
	for name, s := range r.pending {
		if r.active[name] != s {
			late = append(late, s)
		}
	}
	r.pending = map[string]*Source{}
	r.activate = activate
	return late
}

// Current returns the active bundles, with one replaced.
func (r *Remote) Current(name string, with *Source) []*Source {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]*Source, len(r.active)+1)
	for k, v := range r.active {
		m[k] = v
	}
	if with != nil {
		m[name] = with
	}
	return sortedSources(m)
}

func sortedSources(m map[string]*Source) []*Source {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*Source, 0, len(names))
	for _, n := range names {
		out = append(out, m[n])
	}
	return out
}

// update is the downloader callback. A download that fails, or a bundle
// that fails verification, changes nothing; a verified bundle is activated
// through a new generation (the same build path as local bundles) and, once
// active, persisted.
func (r *Remote) update(ctx context.Context, name string, u download.Update) error {
	r.mu.Lock()
	st := r.status[name]
	st.LastCheck = time.Now()
	signal := func() {
		if ch := r.first[name]; ch != nil {
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
	}
	switch {
	case u.Error != nil:
		st.Failures++
		st.rejected = false
		st.LastError, st.LastErrorAt = u.Error.Error(), time.Now()
		signal()
		r.mu.Unlock()
		r.downloads.WithLabelValues(name, "download_failed").Inc()
		r.log.Error("bundle download failed; keeping the active bundle", "bundle", name, "error", u.Error.Error())
		return nil
	case u.Bundle == nil:
		st.NotModified++
		if !st.rejected {
			st.LastError = ""
		}
		r.mu.Unlock()
		r.downloads.WithLabelValues(name, "not_modified").Inc()
		return nil
	}
	hash := ContentHash(u.Bundle)
	if r.unchanged(name, st, u, hash) {
		signal()
		r.mu.Unlock()
		r.downloads.WithLabelValues(name, "unchanged").Inc()
		return nil
	}
	st.Downloads++
	var raw []byte
	if u.Raw != nil {
		raw, _ = io.ReadAll(u.Raw)
	}
	src := &Source{Name: name, Origin: "bundle " + name + " (" + r.sources[name].Resource + ")", Bundle: u.Bundle}
	rev := src.Revision()
	firstGen := r.activate == nil
	if firstGen {
		// Before the first generation: it will be built with this one.
		r.pending[name] = src
		st.Revision, st.From, st.ETag, st.hash = rev, "download", u.ETag, hash
		signal()
		r.mu.Unlock()
		r.persist(name, raw)
		return nil
	}
	activate := r.activate
	r.mu.Unlock()

	err := activate(ctx, name, src)
	r.mu.Lock()
	if err != nil {
		st.Failures++
		st.LastError, st.LastErrorAt = "bundle revision "+rev+" rejected: "+err.Error(), time.Now()
		st.rejected, st.hash = true, hash
		r.mu.Unlock()
		r.downloads.WithLabelValues(name, "rejected").Inc()
		return nil // the downloader keeps the ETag: the same bad bundle is not fetched again
	}
	r.active[name] = src
	st.Revision, st.From, st.ETag, st.LastActive, st.LastError = rev, "download", u.ETag, time.Now(), ""
	st.rejected, st.hash = false, hash
	r.mu.Unlock()
	r.downloads.WithLabelValues(name, "activated").Inc()
	r.persist(name, raw)
	return nil
}

// persist writes the raw bundle as <dir>/<name>/bundle.tar.gz: a temp file
// synced and renamed, so a crash never leaves half a bundle behind.
func (r *Remote) persist(name string, raw []byte) {
	if r.dir == "" || !r.sources[name].Persist || len(raw) == 0 {
		return
	}
	dir := filepath.Join(r.dir, name)
	err := func() error {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		f, err := os.CreateTemp(dir, ".bundle-*.tar.gz")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		if _, err := f.Write(raw); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Rename(f.Name(), filepath.Join(dir, "bundle.tar.gz"))
	}()
	if err != nil {
		r.log.Error("cannot persist bundle", "bundle", name, "error", err.Error())
	}
}

// readPersisted reads and verifies (with the same keys) a persisted bundle.
func (r *Remote) readPersisted(name string, src *opabundle.Source) (*Source, error) {
	p := filepath.Join(r.dir, name, "bundle.tar.gz")
	raw, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rd := bundle.NewCustomReader(bundle.NewTarballLoaderWithBaseURL(bytes.NewReader(raw), "")).
		WithRegoVersion(ast.RegoV1).
		WithCapabilities(Capabilities()).
		WithSizeLimitBytes(src.SizeLimitBytes).
		WithBundleName(name)
	if src.Signing != nil {
		rd = rd.WithBundleVerificationConfig(src.Signing)
	}
	b, err := rd.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &Source{Name: name, Origin: "bundle " + name + " (persisted " + p + ")", Bundle: &b}, nil
}

// Stop stops every downloader.
func (r *Remote) Stop(ctx context.Context) {
	for _, d := range r.dls {
		d.Stop(ctx)
	}
}

// Snapshot is the per-bundle status for /readyz.
func (r *Remote) Snapshot() map[string]RemoteStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]RemoteStatus, len(r.status))
	for k, v := range r.status {
		out[k] = *v
	}
	return out
}

// Degraded reports a bundle whose last attempt failed.
func (r *Remote) Degraded() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.status {
		if st.LastError != "" {
			return true
		}
	}
	return false
}
