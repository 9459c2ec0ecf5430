package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/gatehouse/gatehouse/gateway/tracing/tracingtest"
)

var tracingConfig = withFixtures(`
listen:
  address: 127.0.0.1:0
  tls: {cert_file: server.pem, key_file: server-key.pem}
  forward_auth: {address: 127.0.0.1:0, trusted_proxies: [127.0.0.1]}
admin: {address: 127.0.0.1:0}
apis:
  - openapi: shapes.yaml
    upstream: ${UPSTREAM}/backend
schemes:
  jwt: {type: bearer, issuers: [test]}
  basic: {type: basic, users_file: users.htpasswd, users_meta_file: users.yaml, realm: shapes}
policy:
  decision_logs: {file: decisions.jsonl}
tracing:
  exporter: ${EXPORTER}
  endpoint: ${ENDPOINT}
  service_name: gatehouse-e2e
`, "issuer")

// A W3C traceparent that continues the client's (sampled) trace.
const (
	clientTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientParent = "00f067aa0ba902b7"
)

// Tracing through the real gateway, exporting to an in-process OTLP
// receiver (gRPC, then OTLP/HTTP): the client's trace continues through the
// server span, its route/authn/policy/upstream children, and on to the
// upstream; a malformed traceparent starts a new trace; the audit line and
// the decision log carry the trace and span ids; no span attribute holds a
// credential.
func TestTracing(t *testing.T) {
	t.Parallel()
	rcv := tracingtest.Start(t)
	for _, exp := range []struct{ name, endpoint string }{
		{"otlp-grpc", "http://" + rcv.GRPCAddr},
		{"otlp-http", rcv.HTTPURL},
	} {
		t.Run(exp.name, func(t *testing.T) {
			cfg := strings.NewReplacer("${EXPORTER}", exp.name, "${ENDPOINT}", exp.endpoint).Replace(tracingConfig)
			cfg = strings.Replace(cfg, "gatehouse-e2e", "gatehouse-"+exp.name, 1)
			testTracing(t, rcv, cfg, "gatehouse-"+exp.name)
		})
	}
}

func testTracing(t *testing.T, rcv *tracingtest.Receiver, cfg, service string) {
	e := newEnv(t, envOptions{config: cfg, files: map[string]string{"shapes.yaml": shapesDoc}})
	// traceOf is one trace's spans from this gateway (the receiver is
	// shared by the subtests).
	traceOf := func(id string) []tracingtest.Span {
		var out []tracingtest.Span
		for _, sp := range rcv.Trace(id) {
			if sp.Service == service {
				out = append(out, sp)
			}
		}
		return out
	}
	tok := e.token(nil)
	secrets := []string{tok, "alice-secret-pw", "Bearer", "Basic "}

	type result struct {
		upstreamTP, upstreamTS string
		requestID              string
	}
	send := func(name, path string, h http.Header, status int) result {
		t.Helper()
		h.Set("X-Request-Id", "tr-"+strings.ReplaceAll(name, "/", "-"))
		n := e.upstream.count()
		if got := e.do("GET", path, h); got.status != status {
			t.Fatalf("%s: status %d, want %d: %s", name, got.status, status, got.body)
		}
		r := result{requestID: h.Get("X-Request-Id")}
		if e.upstream.count() > n {
			up := e.upstream.last().Header
			r.upstreamTP, r.upstreamTS = strings.Join(up.Values("Traceparent"), "|"), strings.Join(up.Values("Tracestate"), "|")
		}
		return r
	}

	continued := send("continued", "/shapes/single", hdr("Authorization", "Bearer "+tok,
		"Traceparent", "00-"+clientTrace+"-"+clientParent+"-01", "Tracestate", "vendor=1"), 200)
	malformed := send("malformed", "/shapes/single", hdr("Authorization", "Bearer "+tok,
		"Traceparent", "00-"+clientTrace+"-"+clientParent+"-01-x", "Tracestate", "vendor=1"), 200)
	notSampled := send("not-sampled", "/shapes/or", hdr("Authorization", basic("alice", "alice-secret-pw").Get("Authorization"),
		"Traceparent", "00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-00"), 200)
	denied := send("denied", "/shapes/single", hdr("Authorization", "Bearer "+tok+"x"), 401)

	// At the forward-auth front door the allow answer carries the
	// traceparent (and the trace's tracestate) the proxy copies to the
	// upstream request: a child of the authorization span, in the client's
	// trace.
	fwdTrace := strings.Repeat("c", 32)
	fa, err := http.NewRequest("GET", "http://"+e.srv.ForwardAuthAddr().String()+"/auth/forward", nil)
	if err != nil {
		t.Fatal(err)
	}
	fa.Header = hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/shapes/single", "X-Forwarded-Host", "localhost",
		"X-Forwarded-Proto", "https", "Authorization", "Bearer "+tok, "X-Request-Id", "tr-forward-auth",
		"Traceparent", "00-"+fwdTrace+"-"+clientParent+"-01", "Tracestate", "vendor=2")
	resp, err := http.DefaultClient.Do(fa)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("forward auth: status %d", resp.StatusCode)
	}
	fwdTID, fwdSID := traceparentIDs(t, resp.Header.Get("Traceparent"))
	if fwdTID != fwdTrace || resp.Header.Get("Tracestate") != "vendor=2" {
		t.Fatalf("forward auth answer traceparent %q tracestate %q", resp.Header.Get("Traceparent"), resp.Header.Get("Tracestate"))
	}

	if err := e.srv.FlushTraces(context.Background()); err != nil {
		t.Fatal(err)
	}
	all := rcv.Wait(t, "the continued trace", func(s []tracingtest.Span) bool {
		n := 0
		for _, sp := range s {
			if sp.TraceID == clientTrace && sp.Service == service {
				n++
			}
		}
		return n >= 5
	})

	// The continued trace: one server span, child of the client's span,
	// with route, authn, policy and upstream children; the upstream got a
	// traceparent naming the upstream span, in the same trace.
	var trace []tracingtest.Span
	for _, sp := range all {
		if sp.TraceID == clientTrace && sp.Service == service {
			trace = append(trace, sp)
		}
	}
	server := tracingtest.Find(trace, "GET /shapes/single")
	if server == nil || server.Kind != tracepb.Span_SPAN_KIND_SERVER || server.ParentSpanID != clientParent || server.Instance != e.srv.InstanceID() {
		t.Fatalf("server span %+v in %v", server, tracingtest.Names(trace))
	}
	for k, want := range map[string]string{"gatehouse.decision": "allow", "gatehouse.operation": "single", "gatehouse.api": "shapes",
		"http.route": "/shapes/single", "http.response.status_code": "200", "gatehouse.request_id": continued.requestID} {
		if server.Attrs[k] != want {
			t.Errorf("server span %s = %q, want %q", k, server.Attrs[k], want)
		}
	}
	children := map[string]tracingtest.Span{}
	for _, c := range tracingtest.Children(trace, server.SpanID) {
		children[c.Name] = c
	}
	for name, attrs := range map[string]map[string]string{
		"route":     {"gatehouse.operation": "single"},
		"authn jwt": {"gatehouse.scheme": "jwt", "gatehouse.outcome": "verified"},
		"policy":    {"gatehouse.decision": "allow"},
		"upstream":  {"http.response.status_code": "200"},
	} {
		c, ok := children[name]
		if !ok {
			t.Fatalf("no %q child of the server span: %v", name, tracingtest.Names(trace))
		}
		for k, want := range attrs {
			if c.Attrs[k] != want {
				t.Errorf("%s span %s = %q, want %q", name, k, c.Attrs[k], want)
			}
		}
	}
	if children["upstream"].Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("upstream span kind %v", children["upstream"].Kind)
	}
	if want := "00-" + clientTrace + "-" + children["upstream"].SpanID + "-01"; continued.upstreamTP != want || continued.upstreamTS != "vendor=1" {
		t.Fatalf("upstream traceparent %q tracestate %q, want %q and the client's", continued.upstreamTP, continued.upstreamTS, want)
	}

	// A malformed traceparent is neither trusted nor passed on: a new
	// trace, whose root is the server span.
	tid, _ := traceparentIDs(t, malformed.upstreamTP)
	if tid == clientTrace || malformed.upstreamTS != "" {
		t.Fatalf("malformed traceparent continued: upstream got %q, tracestate %q", malformed.upstreamTP, malformed.upstreamTS)
	}
	rcv.Wait(t, "the malformed request's new trace", func([]tracingtest.Span) bool { return len(traceOf(tid)) >= 5 })
	if root := tracingtest.Find(traceOf(tid), "GET /shapes/single"); root == nil || root.ParentSpanID != "" {
		t.Fatalf("new trace's server span %+v", root)
	}

	// Not sampled by the caller: nothing exported, but the trace id still
	// reaches the upstream, not sampled.
	ntid, _ := traceparentIDs(t, notSampled.upstreamTP)
	if ntid != strings.Repeat("a", 32) || !strings.HasSuffix(notSampled.upstreamTP, "-00") {
		t.Fatalf("not-sampled upstream traceparent %q", notSampled.upstreamTP)
	}

	rcv.Wait(t, "the forward-auth trace", func([]tracingtest.Span) bool {
		return tracingtest.Find(traceOf(fwdTrace), "authorize GET /shapes/single") != nil
	})
	if az := tracingtest.Find(traceOf(fwdTrace), "authorize GET /shapes/single"); az.SpanID != fwdSID || az.ParentSpanID != clientParent || az.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Fatalf("authorize span %+v, want span %s under %s", az, fwdSID, clientParent)
	}

	// A denial is traced too, with its reasons; nothing went upstream.
	if denied.upstreamTP != "" {
		t.Fatal("denied request reached the upstream")
	}

	// The audit line of each request carries its trace and server span.
	audit := auditByRequest(t, e.logs.String())
	if a := audit[continued.requestID]; a["trace_id"] != clientTrace || a["span_id"] != server.SpanID {
		t.Fatalf("audit line %v, want trace %s span %s", a, clientTrace, server.SpanID)
	}
	if a := audit[notSampled.requestID]; a["trace_id"] != ntid {
		t.Fatalf("not-sampled audit line %v, want trace %s", a, ntid)
	}
	var deniedTrace string
	if a := audit[denied.requestID]; a["trace_id"] == nil {
		t.Fatalf("denied audit line %v has no trace_id", a)
	} else {
		deniedTrace = a["trace_id"].(string)
	}
	rcv.Wait(t, "the denied request's trace", func([]tracingtest.Span) bool { return len(traceOf(deniedTrace)) >= 3 })
	ds := tracingtest.Find(traceOf(deniedTrace), "GET /shapes/single")
	if ds == nil || ds.Attrs["gatehouse.decision"] != "deny" || ds.Attrs["http.response.status_code"] != "401" || ds.Attrs["gatehouse.reasons"] == "" {
		t.Fatalf("denied server span %+v", ds)
	}
	if a := tracingtest.Find(traceOf(deniedTrace), "authn jwt"); a == nil || a.Attrs["gatehouse.outcome"] != "invalid_signature" {
		t.Fatalf("denied authn span %+v", a)
	}

	// The decision log, in OPA's format, carries trace_id and span_id.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	logged := decisionsByRequest(t, filepath.Join(e.dir, "decisions.jsonl"))
	if d := logged[continued.requestID]; d["trace_id"] != clientTrace || d["span_id"] != server.SpanID {
		t.Fatalf("decision log %v, want trace %s span %s", d, clientTrace, server.SpanID)
	}

	// No span attribute holds a credential.
	for _, sp := range rcv.Spans() {
		for k, v := range sp.Attrs {
			for _, s := range secrets {
				if strings.Contains(v, s) {
					t.Fatalf("span %s attribute %s holds a credential: %q", sp.Name, k, v)
				}
			}
		}
	}
}

// traceparentIDs splits a well-formed traceparent.
func traceparentIDs(t *testing.T, tp string) (traceID, spanID string) {
	t.Helper()
	p := strings.Split(tp, "-")
	if len(p) != 4 || p[0] != "00" || len(p[1]) != 32 || len(p[2]) != 16 {
		t.Fatalf("traceparent %q is not well formed", tp)
	}
	return p[1], p[2]
}

// auditByRequest indexes the audit lines of logs by request id.
func auditByRequest(t *testing.T, logs string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["@message"] == "request" {
			if rid, _ := m["request_id"].(string); rid != "" {
				out[rid] = m
			}
		}
	}
	return out
}

// decisionsByRequest indexes a decision-log file by request id.
func decisionsByRequest(t *testing.T, path string) map[string]map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not a JSON line: %s", line)
		}
		custom, _ := ev["custom"].(map[string]any)
		rid, _ := custom["request_id"].(string)
		out[rid] = ev
	}
	return out
}
