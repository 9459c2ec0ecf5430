package gateway

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/hashicorp/go-hclog"
)

// tlsWatcher reloads TLS material in place when its files change: the
// server certificate and key, and the client CA bundles and CRLs of every
// API (and of the forwarding proxy). It is deliberately small and separate
// from configuration reloads: none of these files needs a new generation,
// and established connections keep what they negotiated.
//
// It watches parent directories (deployment tools and Kubernetes replace
// files by rename, which a watch on the file itself would miss), waits until
// events have stopped for the debounce time, and reports the files whose
// content hash changed — so a certificate and its key written one after the
// other are reloaded together, once.
type tlsWatcher struct {
	fsw      *fsnotify.Watcher
	log      hclog.Logger
	debounce time.Duration
	onChange func(changed map[string]bool)

	mu    sync.Mutex
	files map[string][sha256.Size]byte
	dirs  map[string]bool
}

// tlsWatchDebounce is how long the watcher waits for events to stop.
const tlsWatchDebounce = 250 * time.Millisecond

func newTLSWatcher(log hclog.Logger, debounce time.Duration, onChange func(map[string]bool)) (*tlsWatcher, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	return &tlsWatcher{fsw: fsw, log: log, debounce: debounce, onChange: onChange,
		files: map[string][sha256.Size]byte{}, dirs: map[string]bool{}}, nil
}

// set replaces the watched files. Files already watched keep their last
// seen content, so a change that raced with set is not lost.
func (w *tlsWatcher) set(files []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	next := map[string][sha256.Size]byte{}
	for _, f := range files {
		if f == "" {
			continue
		}
		f = filepath.Clean(f)
		if sum, ok := w.files[f]; ok {
			next[f] = sum
		} else {
			next[f] = fileSum(f)
		}
		dir := filepath.Dir(f)
		if !w.dirs[dir] {
			if err := w.fsw.Add(dir); err != nil {
				w.log.Warn("cannot watch directory; TLS files there reload on SIGHUP only", "dir", dir, "error", err.Error())
				continue
			}
			w.dirs[dir] = true
		}
	}
	w.files = next
}

// run delivers events until ctx ends.
func (w *tlsWatcher) run(ctx context.Context) {
	defer w.fsw.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			timer.Reset(w.debounce)
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.log.Warn("TLS file watcher error; checking every file", "error", err.Error())
			timer.Reset(w.debounce)
		case <-timer.C:
			if changed := w.changed(); len(changed) > 0 {
				w.onChange(changed)
			}
		}
	}
}

func (w *tlsWatcher) changed() map[string]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]bool{}
	for f, old := range w.files {
		if sum := fileSum(f); sum != old {
			w.files[f] = sum
			out[f] = true
		}
	}
	return out
}

// fileSum hashes a file's content; an unreadable file hashes as empty
// content with a marker, so its reappearance counts as a change.
func fileSum(path string) [sha256.Size]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return sha256.Sum256([]byte("\x00unreadable\x00" + err.Error()))
	}
	return sha256.Sum256(b)
}
