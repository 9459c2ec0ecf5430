package bundles_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse/gatehouse/bundles"
)

// writeBundle writes files into a fresh bundle directory.
func writeBundle(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// publicInput is a minimal input of a public operation: only custom deny
// rules can deny it.
func publicInput(headers map[string]string) ast.Value {
	h := map[string]any{}
	for k, v := range headers {
		h[k] = v
	}
	v, err := ast.InterfaceToValue(map[string]any{
		"request":     map[string]any{"method": "GET", "path": "/x", "headers": h, "client_ip": "192.0.2.7"},
		"api":         map[string]any{"name": "shapes", "version": "1", "base_path": "/shapes"},
		"operation":   map[string]any{"id": "public", "method": "GET", "path": "/x", "public": true, "security": []any{}, "scope_mode": "all"},
		"schemes":     map[string]any{},
		"credentials": map[string]any{},
		"rejections":  map[string]any{},
	})
	if err != nil {
		panic(err)
	}
	return v
}

// User policies run sandboxed: no builtin that reaches the network or the
// process environment compiles; pure builtins do.
func TestSandbox(t *testing.T) {
	cases := []struct {
		name    string
		rule    string
		refused bool
	}{
		{"ok/cidr_contains", `deny contains {"reason": "office"} if net.cidr_contains("192.0.2.0/24", input.request.client_ip)`, false},
		{"ok/time_now", `deny contains {"reason": "night"} if time.clock([time.now_ns(), "UTC"])[0] < 0`, false},
		{"fail/http_send", `deny contains {"reason": r.body.reason} if r := http.send({"method": "GET", "url": "http://127.0.0.1:1/"})`, true},
		{"fail/opa_runtime_env", `deny contains {"reason": "env"} if opa.runtime().env.HOME`, true},
		{"fail/lookup_ip", `deny contains {"reason": "dns"} if net.lookup_ip_addr("example.com")`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeBundle(t, map[string]string{
				".manifest":   `{"revision": "sandbox", "roots": ["gatehouse/custom"]}`,
				"custom.rego": "package gatehouse.custom\n\n" + c.rule + "\n",
			})
			e, err := bundles.Load(context.Background(), bundles.Options{Base: true, Bundles: []string{dir}})
			if c.refused {
				if err == nil || !errors.Is(err, bundles.ErrCompile) {
					t.Fatalf("bundle compiled (err %v); want ErrCompile", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			d, err := e.Decide(context.Background(), publicInput(nil))
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if c.name == "ok/cidr_contains" && (d.Allow || len(d.Reasons) != 1 || d.Reasons[0] != "office") {
				t.Fatalf("decision %+v, want deny office", d)
			}
		})
	}
}

// A runaway policy (a comprehension over 10^10 pairs) hits the decision
// deadline: the evaluation is interrupted, the caller gets ErrDeadline and
// fails closed, and other decisions on the same engine go on meanwhile.
func TestDeadlineInterruptsRunawayPolicy(t *testing.T) {
	dir := writeBundle(t, map[string]string{
		".manifest":   `{"revision": "runaway", "roots": ["gatehouse/custom"]}`,
		"custom.rego": runawayRego(t),
	})
	// The engine's own deadline is generous so ordinary decisions, which share
	// the CPU with the runaway ones (under -race, on a loaded CI machine), never
	// hit it; the runaway decisions carry a short deadline of their own. Both
	// paths end in the same interruption (ErrDeadline).
	e, err := bundles.Load(context.Background(), bundles.Options{Base: true, Bundles: []string{dir}, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := e.Decide(ctx, publicInput(map[string]string{"x-runaway": "1"}))
			errs <- err
		}()
	}
	// Ordinary decisions are unaffected while the runaway ones run.
	for range 20 {
		d, err := e.Decide(context.Background(), publicInput(nil))
		if err != nil || !d.Allow {
			t.Fatalf("ordinary decision during runaway: %+v %v", d, err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, bundles.ErrDeadline) {
			t.Fatalf("runaway decision: %v, want ErrDeadline", err)
		}
	}
}

// The engine's own timeout (the gateway's policy.decision_timeout) stops a
// runaway decision on the direct evaluator and on an operation's plan, which
// both bound it without a context of their own.
func TestEngineTimeoutInterruptsRunawayPolicy(t *testing.T) {
	dir := writeBundle(t, map[string]string{
		".manifest":   `{"revision": "runaway", "roots": ["gatehouse/custom"]}`,
		"custom.rego": runawayRego(t),
	})
	op := bundles.Operation{
		API:       ast.MustParseTerm(`{"name": "shapes", "version": "1", "base_path": "/shapes"}`),
		Operation: ast.MustParseTerm(`{"id": "public", "method": "GET", "path": "/x", "public": true, "security": [], "scope_mode": "all"}`),
		Schemes:   ast.MustParseTerm(`{}`),
	}
	e, err := bundles.Load(context.Background(), bundles.Options{Base: true, Bundles: []string{dir}, Timeout: 200 * time.Millisecond, Operations: []bundles.Operation{op}})
	if err != nil {
		t.Fatal(err)
	}
	if e.Plans()[0] == nil {
		t.Fatal("the public operation has no plan")
	}
	for _, plan := range []*bundles.Plan{nil, e.Plans()[0]} {
		start := time.Now()
		_, err := e.DecidePlan(context.Background(), plan, publicInput(map[string]string{"x-runaway": "1"}))
		if !errors.Is(err, bundles.ErrDeadline) {
			t.Fatalf("plan %v: runaway decision: %v after %v, want ErrDeadline", plan != nil, err, time.Since(start))
		}
	}
}

// runawayRego is the shared runaway-policy fixture.
func runawayRego(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "bundles", "runaway", "custom.rego"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
