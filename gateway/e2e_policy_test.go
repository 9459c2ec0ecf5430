package gateway_test

import (
	"net/http"
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
