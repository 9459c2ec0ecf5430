package frontdoor_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// TestExplainMatchesProxy: for every quickstart curl case
// (examples/quickstart/curls.sh), `gatehouse explain` and the reverse proxy
// reach the same decision — the same status, decision and reasons — because
// both call the one decision core, pipeline.Core.Evaluate: the proxy through
// ServeHTTP, explain on a generation built from the same config, with the
// request built the way cmd/gatehouse/explain.go builds it.
func TestExplainMatchesProxy(t *testing.T) {
	q := startQuickstart(t)
	proxy, proxyCert := q.httpClient(false, ""), q.httpClient(true, "")
	cfg, err := config.Load(filepath.Join(q.dir, "gatehouse.yaml"))
	must(t, err)
	gen, err := gateway.BuildGeneration(context.Background(), cfg, gateway.BuildOptions{})
	must(t, err)
	t.Cleanup(func() { _ = gen.Close() })

	for i, c := range quickstartCases {
		t.Run(c.name, func(t *testing.T) {
			rid := fmt.Sprintf("explain%d", i)
			pc := proxy
			if c.cert {
				pc = proxyCert
			}
			got := q.viaProxy(t, pc, c, rid)

			// What explainCmd does with --method, --url, -H, --cert.
			r := httptest.NewRequest(c.method, c.path, nil)
			r.Host, r.RemoteAddr = "localhost", "127.0.0.1:40000"
			if c.header != nil {
				for k, vs := range c.header(q) {
					r.Header[k] = vs
				}
			}
			r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true, ServerName: "localhost"}
			if c.cert {
				r.TLS.PeerCertificates = []*x509.Certificate{q.client.Certificate}
			}
			ev := gen.Evaluate(r, rid, time.Now())

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
		})
	}
}
