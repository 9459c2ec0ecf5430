package gateway

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/bundles"
)

// tlsWatcher reloads TLS material in place when its files change: the
// server certificate and key, and the client CA bundles and CRLs of every
// API (and of the forwarding proxy). It is deliberately separate from
// configuration reloads: none of these files needs a new generation, and
// established connections keep what they negotiated.
//
// The watching itself — parent directories (deployment tools and Kubernetes
// replace files by rename), settling until events stop, content hashes — is
// the generic Watcher's, with all TLS files in one group. On top it keeps a
// hash per file, to report which files changed: a certificate and its key
// written one after the other are reloaded together, once.
type tlsWatcher struct {
	w        *bundles.Watcher
	onChange func(changed map[string]bool)

	mu    sync.Mutex
	files map[string][sha256.Size]byte
}

// tlsWatchDebounce is how long the watcher waits for events to stop.
const tlsWatchDebounce = 250 * time.Millisecond

func newTLSWatcher(log hclog.Logger, debounce time.Duration, onChange func(map[string]bool)) (*tlsWatcher, error) {
	w, err := bundles.NewWatcher(log, debounce)
	if err != nil {
		return nil, err
	}
	return &tlsWatcher{w: w, onChange: onChange, files: map[string][sha256.Size]byte{}}, nil
}

// set replaces the watched files. Files already watched keep their last
// seen content, so a change that raced with set is not lost.
func (t *tlsWatcher) set(files []string) {
	t.mu.Lock()
	next := map[string][sha256.Size]byte{}
	paths := make([]string, 0, len(files))
	for _, f := range files {
		if f == "" {
			continue
		}
		f = filepath.Clean(f)
		if sum, ok := t.files[f]; ok {
			next[f] = sum
		} else {
			next[f] = fileSum(f)
		}
		paths = append(paths, f)
	}
	t.files = next
	t.mu.Unlock()
	t.w.Watch("tls", paths, func(context.Context) {
		if changed := t.changed(); len(changed) > 0 {
			t.onChange(changed)
		}
	})
}

// run delivers events until ctx ends.
func (t *tlsWatcher) run(ctx context.Context) { t.w.Run(ctx) }

func (t *tlsWatcher) changed() map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]bool{}
	for f, old := range t.files {
		if sum := fileSum(f); sum != old {
			t.files[f] = sum
			out[f] = true
		}
	}
	return out
}

// fileSum is the content hash of one file (ContentSum's, so a missing or
// unreadable file hashes as such and its reappearance counts as a change).
func fileSum(path string) [sha256.Size]byte { return bundles.ContentSum([]string{path}) }
