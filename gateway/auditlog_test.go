package gateway

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
)

// hclogLine renders the record the way the hclog path in finish does.
func hclogLine(t *testing.T, module string, r *auditRecord) []byte {
	t.Helper()
	var buf bytes.Buffer
	l := hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true, TimeFormat: logTimeFormat}).Named(module)
	l.Info("request",
		"request_id", r.requestID, "method", r.method, "api", r.api, "operation", r.operation,
		"schemes", r.schemes, "outcomes", r.outcomes, "credential_ids", r.credentialIDs,
		"decision", r.decision, "reasons", r.reasons, "status", r.status,
		"duration_ms", r.durationMS, "generation", r.generation, "bundle_revision", r.bundleRevision)
	return buf.Bytes()
}

var timestampRe = regexp.MustCompile(`"@timestamp":"[^"]*"`)

// The fast audit writer must produce the very line hclog produces.
func TestAuditLineMatchesHclog(t *testing.T) {
	tests := []struct {
		name string
		rec  auditRecord
	}{
		{"ok/allow", auditRecord{requestID: "abc-1", method: "GET", api: "petstore", operation: "getPet",
			schemes: []string{"jwt"}, outcomes: []string{"verified"}, credentialIDs: []string{"0a1b2c3d4e5f"},
			decision: "allow", reasons: []string{}, status: 200, durationMS: 1.234, generation: 7, bundleRevision: "b=1,gatehouse-base=builtin"}},
		{"ok/deny-several", auditRecord{requestID: "r", method: "POST", api: "a", operation: "op",
			schemes: []string{"jwt", "basic"}, outcomes: []string{"expired", "invalid_credentials"}, credentialIDs: []string{},
			decision: "deny", reasons: []string{"credentials_invalid", "x"}, status: 401, durationMS: 0.012, generation: 1}},
		{"ok/no-route-nil-slices", auditRecord{requestID: "r", method: "GET", decision: "none", status: 404, durationMS: 0,
			schemes: []string{}, outcomes: []string{}, credentialIDs: []string{}, reasons: []string{"no_route"}}},
		{"ok/nil-reasons", auditRecord{requestID: "r", decision: "none", status: 400, schemes: []string{}, outcomes: []string{}, credentialIDs: []string{}}},
		{"ok/escaping", auditRecord{requestID: "q\"\\<>&\n\t\x01\u2028\u2029é\xff", method: "GET", api: "ü", operation: "GET /a/{b}",
			schemes: []string{"s<"}, outcomes: []string{}, credentialIDs: []string{}, decision: "deny",
			reasons: []string{"custom \"reason\"", "tab\there"}, status: 403, durationMS: 12345.678, generation: 1 << 40}},
		{"ok/tiny-and-huge-durations", auditRecord{requestID: "r", durationMS: 0.0000001, schemes: []string{}, outcomes: []string{}, credentialIDs: []string{}, reasons: []string{}}},
		{"ok/huge-duration", auditRecord{requestID: "r", durationMS: 3e21, schemes: []string{}, outcomes: []string{}, credentialIDs: []string{}, reasons: []string{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := hclogLine(t, "gatehouse.audit", &tc.rec)
			got := appendAuditLine(nil, "gatehouse.audit", time.Now(), &tc.rec)
			w := timestampRe.ReplaceAll(want, []byte(`"@timestamp":"T"`))
			g := timestampRe.ReplaceAll(got, []byte(`"@timestamp":"T"`))
			if !bytes.Equal(w, g) {
				t.Fatalf("lines differ\nhclog: %s\nfast:  %s", w, g)
			}
		})
	}
}

func TestAuditLogBatchesWholeLines(t *testing.T) {
	var out chunkRecorder
	a := newAuditLog("audit", &out)
	rec := auditRecord{requestID: strings.Repeat("x", 100), schemes: []string{}, outcomes: []string{}, credentialIDs: []string{}, reasons: []string{}}
	for i := 0; i < 2000; i++ {
		a.log(&rec)
	}
	a.Close()
	lines := 0
	for _, c := range out.chunks {
		if len(c) > pipeAtomic {
			t.Fatalf("a chunk of %d bytes exceeds %d", len(c), pipeAtomic)
		}
		if c[len(c)-1] != '\n' {
			t.Fatal("a chunk does not end at a line boundary")
		}
		lines += bytes.Count(c, []byte("\n"))
	}
	if lines != 2000 {
		t.Fatalf("%d lines written, want 2000 (nothing lost at Close)", lines)
	}
}

type chunkRecorder struct{ chunks [][]byte }

func (c *chunkRecorder) Write(p []byte) (int, error) {
	c.chunks = append(c.chunks, append([]byte(nil), p...))
	return len(p), nil
}

// FuzzAuditLine: whatever strings reach the audit line (scheme names,
// custom policy reasons, request ids), the line is one valid JSON object on
// one line, and every string round-trips.
func FuzzAuditLine(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"\\<>&\n", "\xff\xfe", "\u2028", "é"} {
		f.Add(s, s+"2")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		rec := auditRecord{requestID: a, api: b, reasons: []string{a, b}, schemes: []string{b}, outcomes: []string{}, credentialIDs: []string{}}
		line := appendAuditLine(nil, "audit", time.Now(), &rec)
		if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
			t.Fatalf("not exactly one line: %q", line)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("invalid JSON %q: %v", line, err)
		}
		if utf8.ValidString(a) && m["request_id"] != a {
			t.Fatalf("request_id %q did not round-trip: %q", a, m["request_id"])
		}
	})
}

func BenchmarkAuditLine(b *testing.B) {
	rec := auditRecord{requestID: "abc-1", method: "GET", api: "petstore", operation: "getPet",
		schemes: []string{"jwt"}, outcomes: []string{"verified"}, credentialIDs: []string{"0a1b2c3d4e5f"},
		decision: "allow", reasons: []string{}, status: 200, durationMS: 1.234, generation: 7, bundleRevision: "b=1,gatehouse-base=builtin"}
	b.ReportAllocs()
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf = appendAuditLine(buf[:0], "gatehouse.audit", time.Now(), &rec)
	}
}
