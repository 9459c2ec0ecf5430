package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/tracing/tracingtest"
)

// BenchmarkTracing is BenchmarkPipeline's jwt-cached request with tracing
// off (the default: compare with BenchmarkPipeline), with tracing on and
// every trace sampled (server span, route, authn, policy and upstream
// spans, exported over OTLP/gRPC to a loopback receiver that discards
// them), and on but not sampled (sample_ratio 0: ids and propagation
// only), each with and without a client traceparent. cpu-ns/op is the
// process's CPU time per request (every goroutine: the batch exporter, and
// the receiver's decoding too), which on a shared machine is steadier than
// ns/op.
func BenchmarkTracing(b *testing.B) {
	e := newBenchEnv(b)
	rcv := tracingtest.Start(b)
	rcv.Discard = true
	withTracing := func(ratio string) *Server {
		p := e.config(b, "gatehouse-tracing-"+ratio+".yaml", "")
		raw, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		raw = append(raw, fmt.Sprintf("\ntracing: {exporter: otlp-grpc, endpoint: 'http://%s', sample_ratio: %s}\n", rcv.GRPCAddr, ratio)...)
		p = filepath.Join(filepath.Dir(p), "traced-"+ratio+".yaml")
		if err := os.WriteFile(p, raw, 0o600); err != nil {
			b.Fatal(err)
		}
		cfg, err := config.Load(p)
		if err != nil {
			b.Fatal(err)
		}
		s, err := New(context.Background(), p, Options{Logger: NewLogger(cfg.Log, io.Discard), AuditOutput: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Shutdown(context.Background()) })
		return s
	}
	off, sampled, unsampled := e.server(b), withTracing("1"), withTracing("0")
	plain := benchRequest("GET", benchBase+"/pets/42", "Bearer "+e.token)
	withParent := benchRequest("GET", benchBase+"/pets/42", "Bearer "+e.token)
	withParent.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	cases := []struct {
		name string
		s    *Server
		r    *http.Request
	}{
		{"off", off, plain},
		{"off-traceparent", off, withParent},
		{"not-sampled", unsampled, plain},
		{"sampled", sampled, plain},
		{"sampled-traceparent", sampled, withParent},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			serve := func() {
				rec := httptest.NewRecorder()
				c.s.ServeHTTP(rec, c.r)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
				}
			}
			serve()
			b.ReportAllocs()
			start, n := cpuTime(), 0
			for b.Loop() {
				serve()
				n++
			}
			// The spans' export is part of their cost.
			if err := c.s.FlushTraces(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's CPU time so far (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
