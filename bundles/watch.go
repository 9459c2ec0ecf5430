package bundles

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/hashicorp/go-hclog"
)

// Watcher calls back when files change. Paths are registered in named
// groups; after any event in a watched directory it waits until events have
// stopped for the settle time, hashes each group's content, and calls the
// group's callback only when the hash differs from the last one it saw. So
// a touch, a chmod or an editor's rewrite of identical bytes does nothing,
// and a file written in several steps is read once, after the last.
//
// It watches the parent directory of every path (a file replaced by rename,
// or a Kubernetes ConfigMap whose ..data symlink is swapped, changes the
// parent, not the file), the resolved target of a symlink, and every
// directory under a directory path. Names starting with "." (other than
// .manifest and .signatures.json) are ignored, as the bundle loader does.
//
// Only events about the watched paths count: a registered file (or its
// symlink target), anything under a registered directory, and the hidden
// entries beside a registered symlink (Kubernetes' ..data swap). Other
// files in a watched parent directory — a decision log or token store the
// gateway writes beside its config, an editor's temporary file — neither
// start nor extend the settle time, so a file written continuously there
// cannot postpone a reload. Paths given to Ignore never count. And a reload
// is never postponed more than maxWait past the first event, however often
// the watched files themselves keep changing.
//
// Any part of the gateway can register its own group: the server registers
// "generation" (the config file and every file it references) and reloads on
// change; the TLS reloader registers its certificate files with its own
// callback.
type Watcher struct {
	fsw    *fsnotify.Watcher
	log    hclog.Logger
	settle time.Duration
	kick   chan struct{}

	mu     sync.Mutex
	groups map[string]*watchGroup
	dirs   map[string]bool
	// What events count (relevant): exact names, directory trees, and the
	// parent directories of symlinked paths; ignore never counts.
	exact       map[string]bool
	trees       []string
	linkParents map[string]bool
	ignore      map[string]bool
}

// maxWaitFactor bounds how long events can postpone a check: 5 settle
// times (1 s at the default 200 ms), or 1 s when that is longer.
const maxWaitFactor = 5

// maxWait is the longest the watcher waits after the first relevant event
// before it checks, even while events keep coming.
func (w *Watcher) maxWait() time.Duration {
	return max(maxWaitFactor*w.settle, time.Second)
}

// DefaultWatchDebounce is how long events must have stopped before the
// watcher reads the files (watch.debounce).
const DefaultWatchDebounce = 200 * time.Millisecond

type watchGroup struct {
	paths []string
	sum   [sha256.Size]byte
	fn    func(context.Context)
}

// NewWatcher starts an fsnotify watcher; Run delivers its events.
func NewWatcher(log hclog.Logger, settle time.Duration) (*Watcher, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if settle <= 0 {
		settle = DefaultWatchDebounce
	}
	return &Watcher{
		fsw: fsw, log: log, settle: settle, kick: make(chan struct{}, 1),
		groups: map[string]*watchGroup{}, dirs: map[string]bool{},
		exact: map[string]bool{}, linkParents: map[string]bool{}, ignore: map[string]bool{},
	}, nil
}

// Watch registers or replaces the group name. A new group's baseline is the
// content now; when an existing group's paths change, its content is checked
// again at the next settle, so a file that changed while the caller was
// reading the old set is not missed (at worst the callback runs once more).
func (w *Watcher) Watch(name string, paths []string, fn func(context.Context)) {
	paths = slices.Clone(paths)
	slices.Sort(paths)
	paths = slices.Compact(paths)
	w.mu.Lock()
	g, ok := w.groups[name]
	switch {
	case !ok:
		w.groups[name] = &watchGroup{paths: paths, sum: ContentSum(paths), fn: fn}
	case !slices.Equal(g.paths, paths):
		g.paths, g.fn = paths, fn
		w.kickLocked()
	default:
		g.fn = fn
	}
	w.syncDirsLocked()
	w.mu.Unlock()
}

// Ignore makes events about paths never count: the files the gateway
// itself writes (decision logs, token stores), wherever they are.
func (w *Watcher) Ignore(paths []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	clear(w.ignore)
	for _, p := range paths {
		if p != "" {
			w.ignore[filepath.Clean(p)] = true
		}
	}
}

// relevant reports whether an event about name can change a watched path.
func (w *Watcher) relevant(name string) bool {
	name = filepath.Clean(name)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ignore[name] {
		return false
	}
	if w.exact[name] {
		return true
	}
	for _, d := range w.trees {
		if strings.HasPrefix(name, d+string(filepath.Separator)) {
			return true
		}
	}
	return w.linkParents[filepath.Dir(name)] && hiddenName(filepath.Base(name))
}

func (w *Watcher) kickLocked() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run delivers events until ctx ends, then closes the watcher.
func (w *Watcher) Run(ctx context.Context) {
	defer w.fsw.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var first time.Time // first event since the last check; zero: none
	arm := func() {
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		timer.Reset(min(w.settle, first.Add(w.maxWait()).Sub(now)))
	}
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			if !w.relevant(ev.Name) {
				continue
			}
			w.log.Trace("file event", "path", ev.Name, "op", ev.Op.String())
			arm()
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			// An overflow means events were lost: check everything.
			w.log.Warn("file watcher error", "error", err.Error())
			arm()
		case <-w.kick:
			arm()
		case <-timer.C:
			first = time.Time{}
			w.check(ctx)
		}
	}
}

// check calls the callback of every group whose content changed.
func (w *Watcher) check(ctx context.Context) {
	type due struct {
		name string
		fn   func(context.Context)
	}
	var run []due
	w.mu.Lock()
	names := make([]string, 0, len(w.groups))
	for n := range w.groups {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		g := w.groups[n]
		if sum := ContentSum(g.paths); sum != g.sum {
			g.sum = sum
			run = append(run, due{n, g.fn})
		}
	}
	w.syncDirsLocked()
	w.mu.Unlock()
	for _, d := range run {
		w.log.Debug("watched files changed", "group", d.name)
		d.fn(ctx)
	}
}

// syncDirsLocked makes the watched directory set match the groups' paths:
// new subdirectories are picked up, directories no longer needed released.
func (w *Watcher) syncDirsLocked() {
	want := map[string]bool{}
	clear(w.exact)
	clear(w.linkParents)
	w.trees = w.trees[:0]
	for _, g := range w.groups {
		for _, p := range g.paths {
			for _, d := range watchDirs(p) {
				want[d] = true
			}
			w.addRelevantLocked(p)
		}
	}
	for d := range w.dirs {
		if !want[d] {
			_ = w.fsw.Remove(d)
			delete(w.dirs, d)
		}
	}
	for d := range want {
		if w.dirs[d] {
			continue
		}
		if err := w.fsw.Add(d); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				w.log.Warn("cannot watch directory", "path", d, "error", err.Error())
			}
			continue
		}
		w.dirs[d] = true
	}
}

// addRelevantLocked records which event names can mean p changed: p and
// its resolved target, everything under either when it is a directory, and
// for a symlink the hidden entries of its directory (Kubernetes swaps
// ..data there, naming neither p nor its target).
func (w *Watcher) addRelevantLocked(p string) {
	p = filepath.Clean(p)
	w.exact[p] = true
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		w.trees = append(w.trees, p) // a directory that may appear later
		return
	}
	w.exact[real] = true
	if real != p {
		w.linkParents[filepath.Dir(p)] = true
	}
	if st, err := os.Stat(real); err == nil && st.IsDir() {
		w.trees = append(w.trees, p, real)
	}
}

// watchDirs lists the directories whose events can mean p changed.
func watchDirs(p string) []string {
	p = filepath.Clean(p)
	dirs := []string{filepath.Dir(p)}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return dirs
	}
	if real != p {
		dirs = append(dirs, filepath.Dir(real))
	}
	if st, err := os.Stat(real); err == nil && st.IsDir() {
		_ = filepath.WalkDir(real, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				if q != real && hiddenName(d.Name()) {
					return filepath.SkipDir
				}
				dirs = append(dirs, q)
			}
			return nil
		})
		if real != p {
			dirs = append(dirs, p)
		}
	}
	return dirs
}

// hiddenName: names the loader skips (Kubernetes' ..data, swap files).
func hiddenName(name string) bool {
	return strings.HasPrefix(name, ".") && name != ".manifest" && name != ".signatures.json"
}

// contentSum hashes the names and bytes of every file under paths. A missing
// or unreadable path hashes as such, so its reappearance is a change too.
func ContentSum(paths []string) [sha256.Size]byte {
	h := sha256.New()
	for _, p := range paths {
		io.WriteString(h, "\x00path\x00"+p+"\x00")
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			io.WriteString(h, "missing")
			continue
		}
		st, err := os.Stat(real)
		if err != nil {
			io.WriteString(h, "missing")
			continue
		}
		if !st.IsDir() {
			hashFile(h, real)
			continue
		}
		_ = filepath.WalkDir(real, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				io.WriteString(h, "unreadable:"+q)
				return nil
			}
			if q != real && hiddenName(d.Name()) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(real, q)
			io.WriteString(h, "\x00file\x00"+rel+"\x00")
			hashFile(h, q)
			return nil
		})
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

func hashFile(h io.Writer, p string) {
	f, err := os.Open(p)
	if err != nil {
		io.WriteString(h, "unreadable")
		return
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		io.WriteString(h, "unreadable")
	}
}
