package bundles_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/bundles"
)

// The watcher calls a group back only when its content changed. Each case
// makes a change to the "subject" group and then a real change to a
// "sentinel" group: the watcher checks all groups together, so once the
// sentinel fired, the subject's callback has run or never will.
func TestWatcherCallsBackOnContentChange(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, dir string)
		called bool
	}{
		{"ok/file_rewritten", func(t *testing.T, dir string) { write(t, dir, "conf/a.yaml", "a: 2") }, true},
		{"ok/file_replaced_by_rename", func(t *testing.T, dir string) {
			write(t, dir, "conf/a.yaml.tmp", "a: 3")
			mustDo(t, os.Rename(filepath.Join(dir, "conf/a.yaml.tmp"), filepath.Join(dir, "conf/a.yaml")))
		}, true},
		{"ok/file_in_subdirectory_added", func(t *testing.T, dir string) { write(t, dir, "bundle/sub/new.rego", "package x") }, true},
		{"ok/file_removed", func(t *testing.T, dir string) { mustDo(t, os.Remove(filepath.Join(dir, "bundle/data.json"))) }, true},
		{"ok/same_bytes_rewritten", func(t *testing.T, dir string) { write(t, dir, "conf/a.yaml", "a: 1") }, false},
		{"ok/touched", func(t *testing.T, dir string) {
			now := time.Now().Add(time.Hour)
			mustDo(t, os.Chtimes(filepath.Join(dir, "conf/a.yaml"), now, now))
		}, false},
		{"ok/hidden_file_in_bundle", func(t *testing.T, dir string) { write(t, dir, "bundle/.swp", "junk") }, false},
		{"ok/unrelated_file_in_parent", func(t *testing.T, dir string) { write(t, dir, "conf/other.yaml", "x") }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "conf/a.yaml", "a: 1")
			write(t, dir, "bundle/data.json", "{}")
			write(t, dir, "bundle/sub/x.rego", "package x")
			write(t, dir, "sentinel/s", "0")
			w, err := bundles.NewWatcher(nil, 20*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var calls []string
			record := func(name string) func(context.Context) {
				return func(context.Context) { mu.Lock(); calls = append(calls, name); mu.Unlock() }
			}
			w.Watch("subject", []string{filepath.Join(dir, "conf/a.yaml"), filepath.Join(dir, "bundle")}, record("subject"))
			w.Watch("sentinel", []string{filepath.Join(dir, "sentinel/s")}, record("sentinel"))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go w.Run(ctx)

			c.change(t, dir)
			time.Sleep(50 * time.Millisecond) // let the change's events arrive first
			write(t, dir, "sentinel/s", "1")
			deadline := time.Now().Add(10 * time.Second)
			for {
				mu.Lock()
				done := slices.Contains(calls, "sentinel")
				got := slices.Contains(calls, "subject")
				mu.Unlock()
				if done {
					if got != c.called {
						t.Fatalf("subject called: %v, want %v", got, c.called)
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatal("sentinel never fired")
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	mustDo(t, os.MkdirAll(filepath.Dir(p), 0o755))
	mustDo(t, os.WriteFile(p, []byte(content), 0o600))
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Files the watcher was not asked about — a log the gateway appends to
// beside its config — do not postpone a change to a watched file, however
// often they are written; nor do paths given to Ignore inside a watched
// directory.
func TestWatcherIgnoresOtherFilesInWatchedDirectories(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "conf/a.yaml", "a: 1")
	write(t, dir, "bundle/data.json", "{}")
	w, err := bundles.NewWatcher(nil, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	called := make(chan time.Time, 10)
	w.Ignore([]string{filepath.Join(dir, "bundle/out.jsonl")})
	w.Watch("subject", []string{filepath.Join(dir, "conf/a.yaml"), filepath.Join(dir, "bundle")},
		func(context.Context) { called <- time.Now() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, name := range []string{"conf/decisions.jsonl", "bundle/out.jsonl"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
					_, _ = f.WriteString(`{"decision": "allow"}` + "\n")
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(300 * time.Millisecond) // the writers are well under way

	wrote := time.Now()
	write(t, dir, "conf/a.yaml", "a: 2")
	select {
	case at := <-called:
		// Logged, not asserted: the settle time is 100 ms.
		t.Logf("callback %v after the write, with two files appended to every 2 ms beside it", at.Sub(wrote))
	case <-time.After(10 * time.Second):
		t.Fatal("a file written continuously beside the watched one postponed the callback")
	}
}

// A watched file written without pause still gets its callback: events
// postpone the check by at most the watcher's bound (1 s here), not
// forever.
func TestWatcherBoundsThePostponement(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "bundle/data.json", `{"n": 0}`)
	w, err := bundles.NewWatcher(nil, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	called := make(chan struct{}, 10)
	w.Watch("subject", []string{filepath.Join(dir, "bundle")}, func(context.Context) { called <- struct{}{} })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	time.Sleep(50 * time.Millisecond)

	start := time.Now()
	for i := 1; ; i++ {
		write(t, dir, "bundle/data.json", `{"n": `+strconv.Itoa(i)+`}`)
		select {
		case <-called:
			t.Logf("callback after %v of writes every 10 ms", time.Since(start))
			return
		case <-time.After(10 * time.Millisecond):
		}
		if time.Since(start) > 15*time.Second {
			t.Fatal("continuous writes to a watched file postponed the callback indefinitely")
		}
	}
}
