package gateway_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The reload environment: the core APIs and three bundles — rules in a
// directory, an unrelated directory bundle, and revocation data in a
// tarball — watched with fsnotify.
var reloadConfig = withFixtures(`
apis:
  - openapi: shapes.yaml
    upstream: ${UPSTREAM}/backend
schemes:
  jwt: {type: bearer, issuers: [test]}
  basic: {type: basic, users_file: users.htpasswd, users_meta_file: users.yaml, realm: shapes}
policy:
  bundles: [bundle/, extra/, revocations.tar.gz]
  # These tests are about atomic swaps. On a shared 2-core machine running
  # -race suites (load average 6+) a 100ms decision can miss its deadline
  # and fail closed; the deadline itself is tested in bundles/.
  decision_timeout: 5s
watch: {debounce: 100ms}
log: {level: trace}
`, "listen", "issuer")

// rulesRego blocks requests whose x-block header names the bundle version,
// so a request shows which version decided it.
func rulesRego(version string) string {
	return `package gatehouse.custom

deny contains {"reason": "blocked_` + version + `"} if input.request.headers["x-block"] == "` + version + `"
`
}

func rulesManifest(rev string) string {
	return `{"revision": "` + rev + `", "roots": ["gatehouse/custom"]}`
}

func reloadEnv(t *testing.T) *env {
	t.Helper()
	return reloadEnvWith(t, reloadConfig)
}

// reloadEnvWith is reloadEnv with another config.
func reloadEnvWith(t *testing.T, config string) *env {
	t.Helper()
	e := newEnv(t, envOptions{
		config: config,
		files: map[string]string{
			"shapes.yaml":        shapesDoc,
			"bundle/.manifest":   rulesManifest("rules-v1"),
			"bundle/custom.rego": rulesRego("v1"),
			"extra/.manifest":    `{"revision": "extra-1", "roots": ["acme"]}`,
			"extra/data.json":    `{"acme": {"tier": "gold"}}`,
			// Binary content in a string: the env's ${...} replacement
			// cannot match gzip output.
			"revocations.tar.gz": string(tarball(t, map[string]string{
				"/.manifest": `{"revision": "revocations-1", "roots": ["gatehouse/revocations"]}`,
				"/data.json": `{"gatehouse": {"revocations": {"jti": {"revoked-jti": {}}}}}`,
			})),
		},
	})
	if err := e.srv.Watch(t.Context()); err != nil {
		t.Fatal(err)
	}
	return e
}

// writeBytes writes raw bytes into the env dir.
func (e *env) writeBytes(name string, b []byte) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, name), b, 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// replace writes a file the way careful tools do: a temp file renamed over
// the old one, so readers never see half of it.
func (e *env) replace(name, content string) {
	e.t.Helper()
	tmp := filepath.Join(e.dir, name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(e.dir, name)); err != nil {
		e.t.Fatal(err)
	}
}

func tarball(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o600, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// revision is the serving generation's bundle revisions.
func (e *env) revision() string { return e.srv.Generation().Engine.Revision() }

// blockedBy sends a request with x-block: version and returns the status.
func (e *env) blockedBy(tok, version string) int {
	h := bearer(tok)
	h.Set("X-Block", version)
	return e.do("GET", "/shapes/single", h).status
}

// A change that does not build never replaces the serving policy: the old
// bundle keeps deciding, /readyz shows the error, the failure is counted;
// the next good change is picked up.
func TestWatchedBundleFailuresKeepOldPolicy(t *testing.T) {
	cases := []struct {
		name  string
		apply func(e *env)
		want  string // in the reload error
	}{
		{"fail/syntax_error", func(e *env) {
			e.replace("bundle/custom.rego", "package gatehouse.custom\n\ndeny contains {\"reason\": \"x\"\n")
		}, "cannot be loaded"},
		{"fail/compile_error", func(e *env) {
			e.replace("bundle/custom.rego", "package gatehouse.custom\n\ndeny contains {\"reason\": \"x\"} if no_such_function(input.request)\n")
		}, "does not compile"},
		{"fail/eval_error", func(e *env) {
			e.replace("bundle/custom.rego", "package gatehouse.custom\n\ndeny contains {\"reason\": \"x\"} if to_number(input.request.method) > 0\n")
		}, "anonymous probe"},
		{"fail/schema_invalid_data", func(e *env) {
			e.replace("bundle/data.json", `{"gatehouse": {"custom": {"deny": [{"status": 403}]}}}`)
		}, "data.schema.json"},
		{"fail/overlapping_roots", func(e *env) {
			e.replace("bundle/.manifest", `{"revision": "rules-v2", "roots": ["gatehouse/custom", "acme/tier"]}`)
		}, "roots overlap"},
		{"fail/base_package", func(e *env) {
			e.replace("bundle/.manifest", `{"revision": "rules-v2", "roots": ["gatehouse/custom", "gatehouse/authz"]}`)
			e.replace("bundle/custom.rego", "package gatehouse.authz\n\nanonymous_allowed := true\n")
		}, "belongs to the base policy"},
		{"fail/truncated_tarball", func(e *env) {
			full := tarball(e.t, map[string]string{
				"/.manifest": `{"revision": "revocations-2", "roots": ["gatehouse/revocations"]}`,
				"/data.json": `{"gatehouse": {"revocations": {"jti": {"other": {}}}}}`,
			})
			e.writeBytes("revocations.tar.gz", full[:len(full)/2])
		}, "revocations.tar.gz"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := reloadEnv(t)
			tok := e.token(nil)
			before := e.revision()
			if s := e.blockedBy(tok, "v1"); s != http.StatusForbidden {
				t.Fatalf("v1 rules not active: %d", s)
			}
			c.apply(e)
			e.waitFor("the failed reload", func() bool { return !e.readyz().LastReload.OK })
			rz := e.readyz()
			if rz.Status != "degraded" || !strings.Contains(rz.LastReload.Error, c.want) {
				t.Fatalf("readyz %+v, want degraded with %q", rz, c.want)
			}
			if got := e.revision(); got != before {
				t.Fatalf("revision changed to %s", got)
			}
			if s := e.blockedBy(tok, "v1"); s != http.StatusForbidden {
				t.Fatalf("old rules no longer decide: %d", s)
			}
			if s := e.blockedBy(tok, "none"); s != http.StatusOK {
				t.Fatalf("allowed request: %d", s)
			}
			if m := get(t, e.admin+"/metrics"); !strings.Contains(m, `gatehouse_reloads_total{result="failure"}`) {
				t.Fatal("failure not counted")
			}

			// Repair everything: the good version is picked up.
			_ = os.Remove(filepath.Join(e.dir, "bundle/data.json"))
			e.writeBytes("revocations.tar.gz", tarball(t, map[string]string{
				"/.manifest": `{"revision": "revocations-2", "roots": ["gatehouse/revocations"]}`,
				"/data.json": `{"gatehouse": {"revocations": {"jti": {"revoked-jti": {}}}}}`,
			}))
			e.replace("bundle/custom.rego", rulesRego("v2"))
			e.replace("bundle/.manifest", rulesManifest("rules-v2"))
			took := e.waitFor("the repaired bundle", func() bool {
				return strings.Contains(e.revision(), "rules-v2") && strings.Contains(e.revision(), "revocations-2")
			})
			t.Logf("repaired bundle active %v after the last write", took)
			if s := e.blockedBy(tok, "v2"); s != http.StatusForbidden {
				t.Fatalf("v2 rules not active: %d", s)
			}
			// A reload that read a half-repaired directory may still be
			// finishing; the next one must bring the status back.
			start := time.Now()
			for e.readyz().Status != "ready" {
				if time.Since(start) > 10*time.Second {
					for _, line := range strings.Split(e.logs.String(), "\n") {
						if strings.Contains(line, "reload") || strings.Contains(line, "generation active") || strings.Contains(line, "files changed") {
							t.Log(line)
						}
					}
					t.Fatalf("readyz after repair: %+v", e.readyz())
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// Kubernetes mounts a ConfigMap as a directory of symlinks into ..data,
// itself a symlink swapped atomically on update. The swap is seen, the new
// content is read whole, and the hidden directories are not bundle content.
func TestWatchedSymlinkSwap(t *testing.T) {
	e := reloadEnv(t)
	tok := e.token(nil)
	mount := filepath.Join(e.dir, "cm")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	version := func(v string) {
		dir := filepath.Join(mount, "..v"+v)
		must(os.MkdirAll(dir, 0o755))
		must(os.WriteFile(filepath.Join(dir, ".manifest"), []byte(rulesManifest("cm-v"+v)), 0o600))
		must(os.WriteFile(filepath.Join(dir, "custom.rego"), []byte(rulesRego("v"+v)), 0o600))
	}
	version("1")
	must(os.Symlink("..v1", filepath.Join(mount, "..data")))
	must(os.Symlink("..data/.manifest", filepath.Join(mount, ".manifest")))
	must(os.Symlink("..data/custom.rego", filepath.Join(mount, "custom.rego")))
	e.replace("gatehouse.yaml", strings.Replace(e.repl.Replace(reloadConfig), "bundles: [bundle/,", "bundles: [cm/,", 1))
	e.waitFor("the ConfigMap bundle", func() bool { return strings.Contains(e.revision(), "cm-v1") })
	if s := e.blockedBy(tok, "v1"); s != http.StatusForbidden {
		t.Fatalf("cm v1 not deciding: %d", s)
	}

	// The kubelet's update: a new timestamped directory, ..data swapped.
	version("2")
	must(os.Symlink("..v2", filepath.Join(mount, "..data_tmp")))
	must(os.Rename(filepath.Join(mount, "..data_tmp"), filepath.Join(mount, "..data")))
	took := e.waitFor("the swapped bundle", func() bool { return strings.Contains(e.revision(), "cm-v2") })
	t.Logf("symlink swap active %v after the swap", took)
	if s := e.blockedBy(tok, "v2"); s != http.StatusForbidden {
		t.Fatalf("cm v2 not deciding: %d", s)
	}
	if s := e.blockedBy(tok, "v1"); s != http.StatusOK {
		t.Fatalf("cm v1 still deciding: %d", s)
	}
}

// Reloads under continuous load: every request is answered by a complete
// generation, none fails, whatever the reloads do.
func TestReloadUnderLoad(t *testing.T) {
	e := reloadEnv(t)
	tok := e.token(nil)
	var total, failed atomic.Int64
	var failMu sync.Mutex
	var failures []string
	fail := func(what string) {
		failed.Add(1)
		failMu.Lock()
		failures = append(failures, what)
		failMu.Unlock()
	}
	stop := underLoad(8, func(int) {
		req, _ := http.NewRequest("GET", e.base+"/shapes/single", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := e.client.Do(req)
		total.Add(1)
		if err != nil {
			fail(err.Error())
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fail(resp.Status + " " + string(body))
		}
	})
	var latencies []time.Duration
	for i := 2; i <= 11; i++ {
		v := "v" + string(rune('0'+i%10)) + "-" + string(rune('a'+i))
		e.replace("bundle/custom.rego", rulesRego(v))
		e.replace("bundle/.manifest", rulesManifest("rules-"+v))
		latencies = append(latencies, e.waitFor("reload "+v, func() bool { return strings.Contains(e.revision(), "rules-"+v) }))
		if i%3 == 0 { // and a bad one, which must change nothing
			e.replace("bundle/custom.rego", "package gatehouse.custom\n\ndeny contains {\n")
			e.waitFor("the failed reload", func() bool { return !e.readyz().LastReload.OK })
		}
	}
	stop()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	t.Logf("%d requests during 10 good and 3 bad reloads, %d failed; change→active latency min %v median %v max %v (debounce 100ms)",
		total.Load(), failed.Load(), latencies[0], latencies[len(latencies)/2], latencies[len(latencies)-1])
	if failed.Load() != 0 {
		for _, line := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(line, "request failed closed") {
				t.Log(line)
			}
		}
		t.Fatalf("%d of %d requests failed during reloads: %v", failed.Load(), total.Load(), failures)
	}
	if total.Load() == 0 {
		t.Fatal("no load was generated")
	}
}
