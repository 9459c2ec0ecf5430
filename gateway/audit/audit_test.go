package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
)

// hclogLine renders the record the way the hclog path in finish does.
func hclogLine(t *testing.T, module string, r *Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	l := hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true, TimeFormat: TimeFormat}).Named(module)
	l.Info("request", r.KeyValues()...)
	return buf.Bytes()
}

var timestampRe = regexp.MustCompile(`"@timestamp":"[^"]*"`)

// The fast audit writer must produce the very line hclog produces.
func TestAuditLineMatchesHclog(t *testing.T) {
	tests := []struct {
		name string
		rec  Record
	}{
		{"ok/allow", Record{RequestID: "abc-1", Method: "GET", API: "petstore", Operation: "getPet",
			Schemes: []string{"jwt"}, Outcomes: []string{"verified"}, CredentialIDs: []string{"0a1b2c3d4e5f"},
			Decision: "allow", Reasons: []string{}, Status: 200, DurationMS: 1.234, Generation: 7, BundleRevision: "b=1,gatehouse-base=builtin"}},
		{"ok/deny-several", Record{RequestID: "r", Method: "POST", API: "a", Operation: "op",
			Schemes: []string{"jwt", "basic"}, Outcomes: []string{"expired", "invalid_credentials"}, CredentialIDs: []string{},
			Decision: "deny", Reasons: []string{"credentials_invalid", "x"}, Status: 401, DurationMS: 0.012, Generation: 1}},
		{"ok/no-route-nil-slices", Record{RequestID: "r", Method: "GET", Decision: "none", Status: 404, DurationMS: 0,
			Schemes: []string{}, Outcomes: []string{}, CredentialIDs: []string{}, Reasons: []string{"no_route"}}},
		{"ok/nil-reasons", Record{RequestID: "r", Decision: "none", Status: 400, Schemes: []string{}, Outcomes: []string{}, CredentialIDs: []string{}}},
		{"ok/escaping", Record{RequestID: "q\"\\<>&\n\t\x01\u2028\u2029é\xff", Method: "GET", API: "ü", Operation: "GET /a/{b}",
			Schemes: []string{"s<"}, Outcomes: []string{}, CredentialIDs: []string{}, Decision: "deny",
			Reasons: []string{"custom \"reason\"", "tab\there"}, Status: 403, DurationMS: 12345.678, Generation: 1 << 40}},
		{"ok/tiny-and-huge-durations", Record{RequestID: "r", DurationMS: 0.0000001, Schemes: []string{}, Outcomes: []string{}, CredentialIDs: []string{}, Reasons: []string{}}},
		{"ok/traced", Record{RequestID: "r", Method: "GET", Decision: "allow", Status: 200, Schemes: []string{"jwt"}, Outcomes: []string{"verified"},
			CredentialIDs: []string{"0a"}, Reasons: []string{},
			TraceID: [16]byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
			SpanID:  [8]byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}}},
		{"ok/huge-duration", Record{RequestID: "r", DurationMS: 3e21, Schemes: []string{}, Outcomes: []string{}, CredentialIDs: []string{}, Reasons: []string{}}},
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
	a := New("audit", &out)
	rec := Record{RequestID: strings.Repeat("x", 100), Schemes: []string{}, Outcomes: []string{}, CredentialIDs: []string{}, Reasons: []string{}}
	for i := 0; i < 2000; i++ {
		a.Log(&rec)
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

// TestAuditLogReusesBatchesSafely: batches are written and their buffers
// reused (Log.recycle) while other goroutines log and flush: every line
// arrives once, whole.
func TestAuditLogReusesBatchesSafely(t *testing.T) {
	var out chunkRecorder
	a := New("audit", &out)
	const writers, perWriter = 8, 3000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				a.Log(&Record{RequestID: fmt.Sprintf("w%d-%d-%s", w, i, strings.Repeat("p", i%300)), Schemes: []string{}, Outcomes: []string{}, CredentialIDs: []string{}, Reasons: []string{}})
			}
		}()
	}
	flushing := make(chan struct{})
	go func() {
		defer close(flushing)
		for range 200 {
			a.Flush()
		}
	}()
	wg.Wait()
	<-flushing
	a.Close()
	seen := map[string]int{}
	for _, c := range out.chunks {
		for _, line := range bytes.Split(bytes.TrimSuffix(c, []byte("\n")), []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			seen[m["request_id"].(string)]++
		}
	}
	if len(seen) != writers*perWriter {
		t.Fatalf("%d distinct lines, want %d", len(seen), writers*perWriter)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("line %s written %d times", id, n)
		}
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
		rec := Record{RequestID: a, API: b, Reasons: []string{a, b}, Schemes: []string{b}, Outcomes: []string{}, CredentialIDs: []string{}}
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
	rec := Record{RequestID: "abc-1", Method: "GET", API: "petstore", Operation: "getPet",
		Schemes: []string{"jwt"}, Outcomes: []string{"verified"}, CredentialIDs: []string{"0a1b2c3d4e5f"},
		Decision: "allow", Reasons: []string{}, Status: 200, DurationMS: 1.234, Generation: 7, BundleRevision: "b=1,gatehouse-base=builtin"}
	b.ReportAllocs()
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf = appendAuditLine(buf[:0], "gatehouse.audit", time.Now(), &rec)
	}
}
