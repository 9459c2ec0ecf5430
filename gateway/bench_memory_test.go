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

	"github.com/gatehouse/gatehouse/authn"
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
// path.N. It measures; it never asserts.
func BenchmarkMemory(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("credentials=%d", n), func(b *testing.B) {
			e := newBenchEnvAlg(b, "ES256")
			tokens := make([]string, n)
			for i := range tokens {
				tokens[i] = "Bearer " + e.mint(b)
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
				writeHeapProfile(b, fmt.Sprintf("%s.%d", p, n))
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
