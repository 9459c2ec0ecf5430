package frontdoor_test

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// TestExplainMatchesProxy: for every quickstart curl case
// (examples/quickstart/curls.sh), `gatehouse explain` and the reverse proxy
// reach the same decision — the same status, decision, reasons and identity
// assertion — because both call the one decision core,
// pipeline.Core.Evaluate: the proxy through ServeHTTP, explain on a
// generation built from the same config, with the request built from
// pipeline.Facts as cmd/gatehouse/explain.go builds it.
func TestExplainMatchesProxy(t *testing.T) {
	q := startQuickstart(t)
	proxy, proxyCert := q.httpClient(false, ""), q.httpClient(true, "")
	gen := q.generation(t)

	for i, c := range quickstartCases {
		t.Run(c.name, func(t *testing.T) {
			rid := fmt.Sprintf("explain%d", i)
			pc := proxy
			if c.cert {
				pc = proxyCert
			}
			got := q.viaProxy(t, pc, c, rid)

			// What explainCmd does with --method, --url, -H, --cert.
			ev := gen.Evaluate(q.request(t, c), rid, time.Now())

			status := ev.Status
			if status == 0 {
				status = http.StatusOK
			}
			decision := "none"
			switch {
			case ev.Failure != nil:
				decision = "error"
			case ev.Decision != nil && ev.Status == 0:
				decision = "allow"
			case ev.Decision != nil:
				decision = "deny"
			}
			var reasons []any
			if ev.Decision != nil {
				for _, r := range ev.Decision.Reasons {
					reasons = append(reasons, r)
				}
			} else if ev.Reason != "" {
				reasons = []any{string(ev.Reason)}
			}
			if status != got.status || status != c.status {
				t.Fatalf("explain: status %d (reason %q), proxy: %d, want %d", status, ev.Reason, got.status, c.status)
			}
			if decision != got.audit["decision"] {
				t.Errorf("explain: decision %q, proxy: %v", decision, got.audit["decision"])
			}
			proxyReasons, _ := got.audit["reasons"].([]any)
			if !reflect.DeepEqual(reasons, proxyReasons) {
				t.Errorf("explain: reasons %v, proxy: %v", reasons, got.audit["reasons"])
			}
			// The assertion explain signed says what the one the upstream
			// got says (its key is explain's own generation's).
			var assertion map[string]any
			if ev.Upstream != nil {
				assertion = claims(t, ev.Upstream.Assertion)
			}
			if !reflect.DeepEqual(assertion, got.assertion) {
				t.Errorf("explain: assertion %v, proxy: %v", assertion, got.assertion)
			}
			if (assertion["sub"] != nil || c.subject != "") && assertion["sub"] != c.subject {
				t.Errorf("explain: assertion sub %v, want %q", assertion["sub"], c.subject)
			}
		})
	}
}
