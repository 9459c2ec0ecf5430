package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

// writeHeapProfile writes the live heap, as it is now, to path (for
// `go tool pprof -sample_index=inuse_space`).
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// residentMiB is this process's resident set (VmRSS), in MiB.
func residentMiB() (float64, bool) {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024, err == nil
		}
	}
	return 0, false
}

// BenchmarkMemory sends N distinct credentials (ES256 tokens, each with its
// own jti, minted beforehand: RS256 signing would take minutes for 100,000)
// through the whole gateway with its default caches, then reports the live
// heap after runtime.GC(): in total, per request sent, and per credential the
// caches still hold (at most their default bound, authn.DefaultCacheSize per
// scheme). The tokens themselves stay alive across both measurements, so
// they are not counted. It also reports the process's resident set after the
// run (rss-MiB, Linux only): the gateway, the test binary and the tokens
// (~40 MB at 100,000), at the runtime's defaults (GOGC 100).
// GATEHOUSE_BENCH_HEAPPROFILE=path writes the heap profile at that point to
// path.<case>. It measures; it never asserts.
func BenchmarkMemory(b *testing.B) {
	cases := []struct {
		name     string
		n        int
		distinct bool // each token its own subject (fill-<i>), as make bench-load's fill
	}{
		{"credentials=10000", 10_000, false},
		{"credentials=100000", 100_000, false},
		// Distinct subjects also fill the assertion cache (its own bound,
		// gateway/assertion/cache.go), which shared ones never do.
		{"credentials=100000/subjects=distinct", 100_000, true},
	}
	for _, c := range cases {
		n := c.n
		b.Run(c.name, func(b *testing.B) {
			e := newBenchEnvAlg(b, "ES256")
			tokens := make([]string, n)
			for i := range tokens {
				if c.distinct {
					tokens[i] = "Bearer " + mintSubject(b, e, "fill-"+strconv.Itoa(i))
				} else {
					tokens[i] = "Bearer " + e.mint(b)
				}
			}
			s := e.server(b)
			serve := func(auth string) {
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, benchRequest("GET", benchBase+"/pets/42", auth))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
				}
			}
			serve("Bearer " + e.token) // build what the first request builds
			var before, after runtime.MemStats
			for b.Loop() {
				runtime.GC()
				runtime.ReadMemStats(&before)
				for _, t := range tokens {
					serve(t)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
			}
			if p := os.Getenv("GATEHOUSE_BENCH_HEAPPROFILE"); p != "" {
				writeHeapProfile(b, fmt.Sprintf("%s.%s", p, strings.NewReplacer("=", "", "/", "-").Replace(c.name)))
			}
			live := float64(after.HeapAlloc) - float64(before.HeapAlloc)
			cached := min(n, authn.DefaultCacheSize)
			b.ReportMetric(live/float64(cached), "live-B/cached-credential")
			b.ReportMetric(live/float64(n), "live-B/request")
			b.ReportMetric(float64(after.HeapAlloc)/(1<<20), "heap-MiB")
			if rss, ok := residentMiB(); ok {
				b.ReportMetric(rss, "rss-MiB")
			}
			runtime.KeepAlive(tokens)
		})
	}
}

// mintSubject is benchEnv.mint with the subject sub.
func mintSubject(b *testing.B, e *benchEnv, sub string) string {
	c := authntest.Claims(benchIss, benchAudience, time.Now(), time.Hour)
	c["sub"] = sub
	c["scope"] = "read:store write:store"
	c["client_id"] = "bench-app"
	tok, err := e.signer.Mint(c)
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// BenchmarkRepeatedAfterFill is the repeated-token request (a credential
// and decision cache hit) on a gateway that has first verified fill
// distinct credentials, which its caches still hold: what full caches cost
// a cache hit, through the collector's work on the larger live heap (the
// filled-gateway row of `make bench-load`, in process). The fill tokens are
// dropped before the loop, so the heap is the gateway's own; rss-MiB is the
// process's resident set at the end (Linux only).
func BenchmarkRepeatedAfterFill(b *testing.B) {
	for _, fill := range []int{0, 100_000} {
		b.Run(fmt.Sprintf("fill=%d", fill), func(b *testing.B) {
			e := newBenchEnvAlg(b, "ES256")
			s := e.server(b)
			serve := func(auth string) {
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, benchRequest("GET", benchBase+"/pets/42", auth))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
				}
			}
			for range fill {
				serve("Bearer " + e.mint(b))
			}
			repeated := "Bearer " + e.token
			serve(repeated)
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			gcs := ms.NumGC
			b.ReportAllocs()
			for b.Loop() {
				serve(repeated)
			}
			live := float64(ms.HeapAlloc) / (1 << 20)
			runtime.ReadMemStats(&ms)
			b.ReportMetric(live, "live-MiB")
			b.ReportMetric(float64(ms.NumGC-gcs)/float64(b.N)*1000, "GCs/1000-requests")
			if rss, ok := residentMiB(); ok {
				b.ReportMetric(rss, "rss-MiB")
			}
		})
	}
}
