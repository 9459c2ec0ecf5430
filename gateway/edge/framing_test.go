package edge

import (
	"bytes"
	"strings"
	"testing"
)

func scanAll(in string, chunk int) (out []byte, reasons []string) {
	s := h1Scanner{lineStart: true, reject: func(r string, _ bool) { reasons = append(reasons, r) }}
	b := []byte(in)
	for len(b) > 0 {
		n := min(chunk, len(b))
		out = s.feed(b[:n], out)
		b = b[n:]
	}
	return out, reasons
}

func TestH1Scanner(t *testing.T) {
	tests := []struct {
		name, in, reason string
	}{
		{"ok/get", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"ok/keep-alive-cl-body-with-lf-inside", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\na\nb\nc" + "GET / HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"ok/chunked-then-next", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\na\nb\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\n\r\n", ""},
		{"ok/upgrade-then-anything", "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\n \n\n", ""},
		{"ok/cl-zero", "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\n\r\n", ""},
		{"fail/bare-lf", "GET / HTTP/1.1\nHost: x\n\n", "bare_lf"},
		{"fail/bare-lf-second-request", "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nA: b\n\r\n", "bare_lf"},
		{"fail/bare-lf-after-cl-body", "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nabGET / HTTP/1.1\n\n", "bare_lf"},
		{"fail/bare-lf-in-trailer", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\n\r\n", "bare_lf_in_chunked_body"},
		{"fail/bare-lf-chunk-size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", "bare_lf_in_chunked_body"},
		{"fail/bare-lf-chunk-extension", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\nabc\r\n0\r\n\r\n", "bare_lf_in_chunked_body"},
		{"fail/bare-lf-last-chunk", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\n\r\n", "bare_lf_in_chunked_body"},
		{"fail/bare-cr-chunk-extension", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;a\rb\r\nabc\r\n0\r\n\r\n", "bare_cr_in_chunked_body"},
		{"fail/lf-after-chunk-data", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n", "bad_chunk_end"},
		{"fail/junk-after-chunk-data", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", "bad_chunk_end"},
		{"fail/bad-chunk-size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", "bad_chunk_size"},
		{"fail/obs-fold", "GET / HTTP/1.1\r\nA: 1\r\n 2\r\n\r\n", "obs_fold"},
		{"fail/cl-te", "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "content_length_with_transfer_encoding"},
		{"fail/te-cl-mixed-case", "POST / HTTP/1.1\r\ntransfer-ENCODING: chunked\r\ncontent-length: 3\r\n\r\n", "content_length_with_transfer_encoding"},
		{"fail/te-http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "transfer_encoding_in_http10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range []int{1, 3, 7, 4096} {
				out, reasons := scanAll(tc.in, chunk)
				got := strings.Join(reasons, ",")
				if got != tc.reason {
					t.Fatalf("chunk %d: reasons %q, want %q", chunk, got, tc.reason)
				}
				if (tc.reason == "") != bytes.Equal(out, []byte(tc.in)) {
					t.Fatalf("chunk %d: output %q for input %q", chunk, out, tc.in)
				}
			}
		})
	}
}

// FuzzH1Scanner: the scanner never panics, only ever inserts one poison, and
// reads the same stream the same way however it is split into reads.
func FuzzH1Scanner(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\n\n",
		"GET / HTTP/1.1\r\nA: 1\r\n 2\r\n\r\n",
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\nabc\r\n0\r\nT: 1\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n",
	} {
		f.Add(s, 5)
	}
	f.Fuzz(func(t *testing.T, in string, chunk int) {
		chunk = 1 + (chunk&0xffff)%64
		whole, r1 := scanAll(in, len(in)+1)
		split, r2 := scanAll(in, chunk)
		if !bytes.Equal(whole, split) || strings.Join(r1, ",") != strings.Join(r2, ",") {
			t.Fatalf("split reads differ: %q/%v vs %q/%v", whole, r1, split, r2)
		}
		switch len(r1) {
		case 0:
			if string(whole) != in {
				t.Fatalf("clean stream changed: %q", whole)
			}
		case 1:
			added, nuls := len(whole)-len(in), bytes.Count(whole, []byte{0})-strings.Count(in, "\x00")
			if !(added == 1 && nuls == 1) && !(added == len(trailerPoison) && nuls == 2) {
				t.Fatalf("poisoned stream %q from %q", whole, in)
			}
		default:
			t.Fatalf("rejected twice: %v", r1)
		}
	})
}

// feedByteWise is feed before plainRun: every byte of a head, chunk line or
// trailer through byte(). FuzzH1ScannerPlainRuns compares the two.
func (s *h1Scanner) feedByteWise(in, out []byte) []byte {
	for i := 0; i < len(in); {
		switch s.state {
		case stPass, stBody, stChunkData, stChunkEnd:
			// One byte at a time through feed, which takes no plain runs
			// in these states.
			out = s.feed(in[i:i+1], out)
			i++
		default:
			out = s.byte(in[i], out)
			i++
		}
	}
	return out
}

func scanByteWise(in string) (out []byte, reasons []string) {
	s := h1Scanner{lineStart: true, reject: func(r string, _ bool) { reasons = append(reasons, r) }}
	return s.feedByteWise([]byte(in), nil), reasons
}

// FuzzH1ScannerPlainRuns: feed, which copies runs of plain bytes in one
// step, reads every stream exactly as the byte-at-a-time scanner does —
// the same output, the same refusal — however the stream is split.
func FuzzH1ScannerPlainRuns(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a HTTP/1.1\r\nA: b\rc\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;a\rb\r\nabc\r\n0\r\nT: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nX: " + strings.Repeat("v", 300) + "\r\nContent-Length: 2\r\n\r\nab",
		"GET / HTTP/1.1\nHost: x\n\n",
		"GET / HTTP/1.1\r\nA: 1\r\n 2\r\n\r\n",
	} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, in string, chunk int) {
		chunk = 1 + (chunk&0xffff)%64
		want, wr := scanByteWise(in)
		for _, c := range []int{len(in) + 1, chunk} {
			got, gr := scanAll(in, c)
			if !bytes.Equal(got, want) || strings.Join(gr, ",") != strings.Join(wr, ",") {
				t.Fatalf("reads of %d: %q/%v, byte at a time: %q/%v", c, got, gr, want, wr)
			}
		}
	})
}

func BenchmarkH1Scanner(b *testing.B) {
	head := []byte("GET /petstore/v1/pets?limit=10 HTTP/1.1\r\nHost: localhost:8443\r\nUser-Agent: wrk\r\n" +
		"Authorization: Bearer " + strings.Repeat("x", 600) + "\r\nAccept: */*\r\n\r\n")
	out := make([]byte, 0, 2*len(head))
	s := h1Scanner{lineStart: true}
	b.SetBytes(int64(len(head)))
	b.ReportAllocs()
	for b.Loop() {
		out = s.feed(head, out[:0])
	}
}
