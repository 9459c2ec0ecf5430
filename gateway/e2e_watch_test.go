package gateway_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Under steady traffic the gateway appends to its decision log beside the
// config, and something else appends to a file in the bundle's parent
// directory: neither postpones a policy change. The change is active within
// the watcher's settle time of the last write to the bundle (100 ms here;
// the figure is logged — the assertion is only that it happens, within
// the 10 s poll).
func TestWatchedPolicyChangeNotDelayedByOutputFiles(t *testing.T) {
	cfg := strings.Replace(reloadConfig, "  decision_timeout: 5s\n",
		"  decision_timeout: 5s\n  decision_logs: {file: decisions.jsonl}\n", 1)
	e := reloadEnvWith(t, cfg)
	tok := e.token(nil)

	var requests atomic.Int64
	stopLoad := underLoad(4, func(int) {
		req, _ := http.NewRequest("GET", e.base+"/shapes/single", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if resp, err := e.client.Do(req); err == nil {
			resp.Body.Close()
			requests.Add(1)
		}
	})
	defer stopLoad()
	stopWriter := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		f, err := os.OpenFile(filepath.Join(e.dir, "notes.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		for {
			select {
			case <-stopWriter:
				return
			case <-time.After(5 * time.Millisecond):
				_, _ = f.WriteString("line\n")
			}
		}
	}()
	defer func() { close(stopWriter); <-writerDone }()

	eventually(t, "traffic and decision log lines", func() bool {
		st, err := os.Stat(filepath.Join(e.dir, "decisions.jsonl"))
		return requests.Load() > 20 && err == nil && st.Size() > 0
	})
	for i, v := range []string{"v2", "v3", "v4"} {
		e.replace("bundle/custom.rego", rulesRego(v))
		e.replace("bundle/.manifest", rulesManifest("rules-"+v))
		took := e.waitFor("policy "+v, func() bool { return strings.Contains(e.revision(), "rules-"+v) })
		build := lastBuildTime(e)
		t.Logf("change %d: policy active %v after the last write (watcher %v + build %v), %d requests so far, decision log and notes.log written throughout",
			i+1, took.Round(time.Millisecond), (took - build).Round(time.Millisecond), build, requests.Load())
		if s := e.blockedBy(tok, v); s != http.StatusForbidden {
			t.Fatalf("%s rules not deciding: %d", v, s)
		}
	}
}

// lastBuildTime is the build time the gateway logged for the generation
// that went active last.
func lastBuildTime(e *env) time.Duration {
	var ms int64
	for _, line := range strings.Split(e.logs.String(), "\n") {
		var l struct {
			Message string `json:"@message"`
			BuildMS *int64 `json:"build_ms"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Message == "generation active" && l.BuildMS != nil {
			ms = *l.BuildMS
		}
	}
	return time.Duration(ms) * time.Millisecond
}
