package bundles_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
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
