package gateway_test

import (
	"github.com/gatehouse/gatehouse/gateway"
	"testing"
)

// The decision cache must never change a decision: with a policy that reads
// request headers it is off, and with a cacheable policy repeated requests
// with the same credential still get per-credential answers.
func TestDecisionCacheNeverChangesDecisions(t *testing.T) {
	tests := []struct {
		name   string
		rule   string
		cached bool
	}{
		{"header-rule-disables-cache", `deny contains {"reason": "maintenance", "status": 503} if input.request.headers["x-maintenance"] == "on"`, false},
		{"credential-rule-keeps-cache", `deny contains {"reason": "no_bots"} if input.credentials.jwt.subject == "bot"`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{
				config: coreConfig,
				files: map[string]string{
					"shapes.yaml":        shapesDoc,
					"bare.yaml":          bareDoc,
					"bundle/.manifest":   `{"revision": "dc-1", "roots": ["gatehouse/revocations", "gatehouse/custom"]}`,
					"bundle/data.json":   `{"gatehouse": {"revocations": {"jti": {}}}}`,
					"bundle/custom.rego": "package gatehouse.custom\n\n" + tc.rule + "\n",
				},
			})
			g := e.srv.Generation()
			if got := gateway.DecisionCacheOn(g); got != tc.cached {
				t.Fatalf("decision cache on = %v, want %v", got, tc.cached)
			}
			alice := e.token(func(c map[string]any) { c["sub"] = "alice" })
			bot := e.token(func(c map[string]any) { c["sub"] = "bot" })
			// Under the header rule, maintenance denies and bots pass; under
			// the credential rule, bots are denied and the header is ignored.
			maintStatus, botStatus := 503, 200
			if tc.cached {
				maintStatus, botStatus = 200, 403
			}
			steps := []struct {
				name   string
				tok    string
				maint  bool
				status int
			}{
				{"alice", alice, false, 200},
				{"alice-again", alice, false, 200},
				{"alice-maintenance", alice, true, maintStatus},
				{"alice-after-maintenance", alice, false, 200},
				{"bot", bot, false, botStatus},
				{"bot-again", bot, false, botStatus},
				{"alice-after-bot", alice, false, 200},
			}
			for _, s := range steps {
				h := bearer(s.tok)
				if s.maint {
					h.Set("X-Maintenance", "on")
				}
				if r := e.do("GET", "/shapes/single", h); r.status != s.status {
					t.Fatalf("%s: status %d, want %d", s.name, r.status, s.status)
				}
			}
			// Different operations with the same credential get their own
			// decisions (write scope missing on POST).
			if r := e.do("POST", "/shapes/single", bearer(alice)); r.status != 403 {
				t.Fatalf("POST with read scope: %d", r.status)
			}
			if r := e.do("GET", "/shapes/single", bearer(alice)); r.status != 200 {
				t.Fatalf("GET after POST: %d", r.status)
			}
		})
	}
}
