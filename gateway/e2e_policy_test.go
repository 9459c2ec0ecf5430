package gateway_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// customRego is a user bundle (package gatehouse.custom) exercising the
// extension points: deny rules with reasons and statuses, extra headers.
const customRego = `package gatehouse.custom

import data.gatehouse.authz

deny contains {"reason": "policy_error"} if input.request.headers["x-test-policy-error"]

deny contains {"reason": "maintenance", "status": 503} if input.request.headers["x-test-maintenance"]

deny contains {"reason": "blocked_client"} if input.request.headers["x-test-blocked"]

headers := {"x-tenant": "acme"} if authz.alternative >= 0
`

func customEnv(t *testing.T) *env {
	return newEnv(t, envOptions{
		config: coreConfig,
		files: map[string]string{
			"shapes.yaml":        shapesDoc,
			"bare.yaml":          bareDoc,
			"bundle/.manifest":   `{"revision": "custom-1", "roots": ["gatehouse/custom", "gatehouse/revocations"]}`,
			"bundle/custom.rego": customRego,
		},
	})
}

// Reasons from custom deny rules map to statuses through the one Go table;
// policy_error (the policy could not decide) is an internal error.
func TestCustomDenyStatuses(t *testing.T) {
	e := customEnv(t)
	tok := e.token(nil)
	cases := []struct {
		name   string
		header string
		want   int
	}{
		{"ok/allowed", "", http.StatusOK},
		{"fail/policy_error_is_500", "X-Test-Policy-Error", http.StatusInternalServerError},
		{"fail/custom_status", "X-Test-Maintenance", http.StatusServiceUnavailable},
		{"fail/unknown_reason_is_403", "X-Test-Blocked", http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := bearer(tok)
			if c.header != "" {
				h.Set(c.header, "1")
			}
			before := e.upstream.count()
			r := e.do("GET", "/shapes/single", h)
			if r.status != c.want {
				t.Fatalf("status %d, want %d: %s", r.status, c.want, r.body)
			}
			called := e.upstream.count() > before
			if called != (c.want == http.StatusOK) {
				t.Fatalf("upstream called: %v", called)
			}
			if c.want == http.StatusOK && e.upstream.last().Header.Get("X-Tenant") != "acme" {
				t.Fatalf("custom header not forwarded: %v", e.upstream.last().Header)
			}
		})
	}
}

// A runaway rule (10^10 iterations on one header) meets the decision
// deadline: that request fails closed with 500 and never reaches the
// upstream, while requests decided meanwhile are answered as usual.
func TestRunawayPolicyFailsClosed(t *testing.T) {
	e := newEnv(t, envOptions{
		config: strings.Replace(coreConfig, "policy:\n  bundles: [bundle/]", "policy:\n  bundles: [bundle/]\n  decision_timeout: 300ms", 1),
		files: map[string]string{
			"shapes.yaml":        shapesDoc,
			"bare.yaml":          bareDoc,
			"bundle/.manifest":   `{"revision": "runaway-1", "roots": ["gatehouse/custom"]}`,
			"bundle/custom.rego": runawayRego(t),
		},
	})
	tok := e.token(nil)
	done := make(chan response, 1)
	go func() { done <- e.do("GET", "/shapes/single", hdr("Authorization", "Bearer "+tok, "X-Runaway", "1")) }()
	for range 5 {
		if r := e.do("GET", "/shapes/single", bearer(tok)); r.status != http.StatusOK {
			t.Fatalf("ordinary request during a runaway decision: %d", r.status)
		}
	}
	before := e.upstream.count()
	r := <-done
	if r.status != http.StatusInternalServerError {
		t.Fatalf("runaway request: %d, want 500", r.status)
	}
	if e.upstream.count() != before {
		t.Fatal("runaway request reached the upstream")
	}
	if !strings.Contains(e.logs.String(), "deadline exceeded") {
		t.Fatal("no log of the deadline")
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
