package gateway_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// logService is a loopback OPA decision-log service: it accepts OPA's
// upload (a gzip JSON array POSTed to /logs) and keeps the events and the
// raw bodies.
type logService struct {
	*httptest.Server
	mu     sync.Mutex
	events []map[string]any
	bodies []string
}

func newLogService(t *testing.T) *logService {
	s := &logService{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/logs" || r.Header.Get("Content-Encoding") != "gzip" {
			http.Error(w, "want a gzip POST to /logs", http.StatusBadRequest)
			return
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		raw, _ := io.ReadAll(zr)
		var evs []map[string]any
		if err := json.Unmarshal(raw, &evs); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.events = append(s.events, evs...)
		s.bodies = append(s.bodies, string(raw))
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *logService) received() ([]map[string]any, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.events...), strings.Join(s.bodies, "\n")
}

var decisionLogConfig = withFixtures(`
apis:
  - openapi: shapes.yaml
    upstream: ${UPSTREAM}/backend
schemes:
  jwt: {type: bearer, issuers: [test]}
  basic: {type: basic, users_file: users.htpasswd, users_meta_file: users.yaml, realm: shapes}
policy:
  bundles: [bundle/]
  remote:
    services:
      logs: {url: "${LOGS}"}
  decision_logs:
    console: true
    file: decisions.jsonl
    service: logs
    reporting: {min_delay_seconds: 1, max_delay_seconds: 1}
    mask_headers: [x-partner-sig]
    metrics: true
instance_id: replica-7
log: {level: trace}
`, "listen", "issuer")

// The bundle's own decision-log policies (OPA's data.system.log).
const logPolicyRego = `package system.log

mask contains "/input/request/headers/x-mask-me"

mask contains {"op": "upsert", "path": "/input/request/client_ip", "value": "0.0.0.0"}

drop if input.input.request.headers["x-drop-me"]
`

// Fixture secrets sent in requests; none may reach any log.
var logSecrets = []string{"fixture-api-key-7f3a", "fixture-auth-token-91c", "fixture-partner-sig-55d", "fixture-mask-me-0be", "fixture-cookie-d41", "alice-secret-pw"}

// One decision record per decision, in OPA's format, carrying the bundle
// revisions that decided, with credentials masked: in the file, on the
// console, and uploaded to a decision-log service.
func TestDecisionLogs(t *testing.T) {
	t.Parallel()
	svc := newLogService(t)
	e := newEnv(t, envOptions{
		config: strings.Replace(decisionLogConfig, "${LOGS}", svc.URL, 1),
		files: map[string]string{
			"shapes.yaml":      shapesDoc,
			"bundle/.manifest": `{"revision": "dl-1", "roots": ["gatehouse/revocations", "system/log"]}`,
			"bundle/log.rego":  logPolicyRego,
			"bundle/data.json": `{"gatehouse": {"revocations": {"jti": {"revoked-jti": {}}}}}`,
		},
	})
	tok := e.token(nil)
	leaky := func(h http.Header) http.Header {
		h.Set("X-Api-Key", logSecrets[0])
		h.Set("X-Auth-Token", logSecrets[1])
		h.Set("X-Partner-Sig", logSecrets[2])
		h.Set("X-Mask-Me", logSecrets[3])
		h.Set("Cookie", "session="+logSecrets[4])
		h.Set("X-Request-Id", "dl-"+strings.ReplaceAll(h.Get("X-Case"), "/", "-"))
		return h
	}
	requests := []struct {
		name   string
		path   string
		header http.Header
		status int
		logged bool
	}{
		{"ok/allowed_bearer", "/shapes/single", bearer(tok), 200, true},
		{"ok/allowed_basic", "/shapes/or", basic("alice", "alice-secret-pw"), 200, true},
		{"fail/denied_missing", "/shapes/single", hdr(), 401, true},
		{"fail/denied_scope", "/shapes/single", bearer(e.token(func(c map[string]any) { c["scope"] = "other" })), 403, true},
		{"ok/dropped_by_policy", "/shapes/single", hdr("Authorization", "Bearer "+tok, "X-Drop-Me", "1"), 200, false},
		{"ok/no_route_no_decision", "/shapes/nowhere", hdr(), 404, false},
	}
	for _, r := range requests {
		r.header.Set("X-Case", r.name)
		if got := e.do("GET", r.path, leaky(r.header)); got.status != r.status {
			t.Fatalf("%s: status %d, want %d", r.name, got.status, r.status)
		}
	}
	// Shutdown flushes the file and uploads what the plugin buffered.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(filepath.Join(e.dir, "decisions.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var events []map[string]any
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("not a JSON line: %s", sc.Text())
		}
		events = append(events, ev)
	}
	byRequest := map[string]map[string]any{}
	ids := map[string]bool{}
	for _, ev := range events {
		custom, _ := ev["custom"].(map[string]any)
		rid, _ := custom["request_id"].(string)
		byRequest[rid] = ev
		id, _ := ev["decision_id"].(string)
		if id == "" || ids[id] {
			t.Fatalf("missing or repeated decision_id: %v", ev)
		}
		ids[id] = true
	}
	for _, r := range requests {
		rid := "dl-" + strings.ReplaceAll(r.name, "/", "-")
		ev, ok := byRequest[rid]
		if ok != r.logged {
			t.Fatalf("%s: logged %v, want %v", r.name, ok, r.logged)
		}
		if !ok {
			continue
		}
		t.Run(r.name, func(t *testing.T) {
			if ev["path"] != "gatehouse/authz/decision" || ev["timestamp"] == "" {
				t.Fatalf("event %v", ev)
			}
			b, _ := ev["bundles"].(map[string]any)
			if rev, _ := b["bundle"].(map[string]any); rev["revision"] != "dl-1" {
				t.Fatalf("bundles %v, want bundle revision dl-1", b)
			}
			res, _ := ev["result"].(map[string]any)
			if allow, _ := res["allow"].(bool); allow != (r.status == 200) {
				t.Fatalf("result %v for status %d", res, r.status)
			}
			custom, _ := ev["custom"].(map[string]any)
			erased := toStrings(custom["erased"])
			for _, h := range []string{"x-partner-sig", "x-mask-me"} {
				if !contains(erased, "/input/request/headers/"+h) {
					t.Errorf("erased %v lacks %s", erased, h)
				}
			}
			// X-Api-Key and X-Auth-Token are identity-looking headers the
			// edge strips before the policy input is built (unless an
			// API-key scheme reads them); erased or absent, never logged.
			inp, _ := ev["input"].(map[string]any)
			rq, _ := inp["request"].(map[string]any)
			hs, _ := rq["headers"].(map[string]any)
			for _, h := range []string{"x-api-key", "x-auth-token"} {
				if _, present := hs[h]; present && !contains(erased, "/input/request/headers/"+h) {
					t.Errorf("%s logged: %v", h, hs[h])
				}
			}
			if !contains(toStrings(custom["masked"]), "/input/request/client_ip") {
				t.Errorf("masked %v", custom["masked"])
			}
			labels, _ := ev["labels"].(map[string]any)
			if labels["id"] != "replica-7" || labels["version"] == "" || labels["version"] == nil || labels["opa_version"] == nil {
				t.Errorf("labels %v, want id replica-7, version and opa_version", labels)
			}
			m, _ := ev["metrics"].(map[string]any)
			if _, ok := m["timer_gatehouse_authn_ns"]; !ok {
				t.Errorf("metrics %v lack timer_gatehouse_authn_ns", m)
			}
			if rq["client_ip"] != "0.0.0.0" {
				t.Errorf("client_ip %v not upserted", rq["client_ip"])
			}
		})
	}
	if len(events) != 4 {
		t.Fatalf("%d records in the file, want 4", len(events))
	}

	uploaded, bodies := svc.received()
	if len(uploaded) != len(events) {
		t.Fatalf("%d events uploaded, want %d", len(uploaded), len(events))
	}
	byID := map[string]map[string]any{}
	for _, ev := range events {
		byID[ev["decision_id"].(string)] = ev
	}
	for _, ev := range uploaded {
		if !ids[ev["decision_id"].(string)] {
			t.Fatalf("uploaded event %v not in the file", ev["decision_id"])
		}
		// One shape everywhere: the same members, the same labels.
		if f := byID[ev["decision_id"].(string)]; !sameShape(f, ev) {
			t.Fatalf("uploaded record and file record differ in shape:\nfile   %v\nupload %v", f, ev)
		}
		b, _ := ev["bundles"].(map[string]any)
		if rev, _ := b["bundle"].(map[string]any); rev["revision"] != "dl-1" {
			t.Fatalf("uploaded bundles %v", b)
		}
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"@message":"decision"`) {
		t.Fatal("no console decision records")
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"@message":"request"`) && !strings.Contains(line, `"bundle_revision":"bundle=dl-1,gatehouse-base=builtin"`) {
			t.Fatalf("audit line without the deciding revision: %s", line)
		}
	}
	for _, secret := range append(logSecrets, tok) {
		for where, text := range map[string]string{"file": string(raw), "process log": logs, "upload": bodies} {
			if strings.Contains(text, secret) {
				t.Errorf("%s contains the fixture secret %q", where, secret)
			}
		}
	}
}

// sameShape: a and b have the same members, the same labels and the same
// custom members (values such as timers may differ in type only).
func sameShape(a, b map[string]any) bool {
	keys := func(m map[string]any) []string {
		out := make([]string, 0, len(m))
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	ca, _ := a["custom"].(map[string]any)
	cb, _ := b["custom"].(map[string]any)
	return fmt.Sprint(keys(a)) == fmt.Sprint(keys(b)) && fmt.Sprint(a["labels"]) == fmt.Sprint(b["labels"]) &&
		fmt.Sprint(keys(ca)) == fmt.Sprint(keys(cb))
}

func toStrings(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
