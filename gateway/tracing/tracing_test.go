package tracing_test

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/attribute"

	"github.com/gatehouse/gatehouse/gateway/tracing"
	"github.com/gatehouse/gatehouse/gateway/tracing/tracingtest"
	"github.com/gatehouse/gatehouse/internal/config"
)

func ratio(f float64) *float64 { return &f }

func TestConfigCheck(t *testing.T) {
	tests := []struct {
		name string
		cfg  tracing.Config
		want string // "" = valid; else a substring of the one error
		ptr  string
	}{
		{"ok/grpc-loopback-plaintext", tracing.Config{Endpoint: "http://127.0.0.1:4317"}, "", ""},
		{"ok/grpc-localhost-plaintext", tracing.Config{Endpoint: "http://localhost:4317"}, "", ""},
		{"ok/grpc-https", tracing.Config{Endpoint: "https://collector.example:4317", CAFiles: []string{"ca.pem"}}, "", ""},
		{"ok/http-path", tracing.Config{Exporter: "otlp-http", Endpoint: "https://collector.example:4318/otlp/v1/traces"}, "", ""},
		{"ok/remote-plaintext-insecure", tracing.Config{Endpoint: "http://collector.internal:4317", Insecure: true}, "", ""},
		{"ok/ratio-zero", tracing.Config{Endpoint: "http://127.0.0.1:4317", SampleRatio: ratio(0)}, "", ""},
		{"ok/headers", tracing.Config{Endpoint: "https://c.example:4317", Headers: map[string]config.Secret{"X-Api-Key": "env:K"}}, "", ""},
		{"fail/unknown-exporter", tracing.Config{Exporter: "zipkin", Endpoint: "http://127.0.0.1:4317"}, "unknown exporter", "/tracing/exporter"},
		{"fail/remote-plaintext", tracing.Config{Endpoint: "http://collector.internal:4317"}, "plaintext", "/tracing/endpoint"},
		{"fail/insecure-https", tracing.Config{Endpoint: "https://collector.example:4317", Insecure: true}, "insecure applies to http://", "/tracing/endpoint"},
		{"fail/ca-plaintext", tracing.Config{Endpoint: "http://127.0.0.1:4317", CAFiles: []string{"ca.pem"}}, "ca_files apply to https://", "/tracing/endpoint"},
		{"fail/no-port", tracing.Config{Endpoint: "https://collector.example"}, "no port", "/tracing/endpoint"},
		{"fail/grpc-path", tracing.Config{Endpoint: "https://collector.example:4317/v1/traces"}, "no path", "/tracing/endpoint"},
		{"fail/user-info", tracing.Config{Endpoint: "https://u:p@collector.example:4317"}, "not a URL", "/tracing/endpoint"},
		{"fail/query", tracing.Config{Exporter: "otlp-http", Endpoint: "https://collector.example:4318/v1/traces?k=v"}, "not a URL", "/tracing/endpoint"},
		{"fail/scheme", tracing.Config{Endpoint: "grpc://collector.example:4317"}, "not an http:// or https://", "/tracing/endpoint"},
		{"fail/ratio", tracing.Config{Endpoint: "http://127.0.0.1:4317", SampleRatio: ratio(1.5)}, "between 0 and 1", "/tracing/sample_ratio"},
		{"fail/header-name", tracing.Config{Endpoint: "https://c.example:4317", Headers: map[string]config.Secret{"bad name": "env:K"}}, "not a header name", "/tracing/headers/bad name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.ApplyDefaults()
			var errs, ptrs []string
			c.Check(func(ptr, format string, args ...any) {
				ptrs = append(ptrs, ptr)
				errs = append(errs, ptr+": "+fmt.Sprintf(format, args...))
			})
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors %v", errs)
				}
				return
			}
			if len(errs) != 1 || ptrs[0] != tc.ptr {
				t.Fatalf("errors %v, want one at %s", errs, tc.ptr)
			}
			if !strings.Contains(errs[0], tc.want) {
				t.Fatalf("error %q, want %q", errs[0], tc.want)
			}
		})
	}
}

// Both exporters deliver spans, with the resource's service name and
// version, to an OTLP receiver on loopback; Shutdown flushes.
func TestExporters(t *testing.T) {
	rcv := tracingtest.Start(t)
	tests := []struct {
		name string
		cfg  tracing.Config
	}{
		{"ok/otlp-grpc", tracing.Config{Exporter: "otlp-grpc", Endpoint: "http://" + rcv.GRPCAddr, ServiceName: "gh-grpc"}},
		{"ok/otlp-http", tracing.Config{Exporter: "otlp-http", Endpoint: rcv.HTTPURL, ServiceName: "gh-http"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.ApplyDefaults()
			p, err := tracing.New(context.Background(), &c, tracing.Options{Version: "v-test", Log: hclog.NewNullLogger()})
			if err != nil {
				t.Fatal(err)
			}
			_, sp := p.Tracer().Start(context.Background(), "probe-"+tc.name)
			sp.SetAttributes(attribute.String("k", "v"))
			sp.End()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := p.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			got := rcv.Wait(t, "the probe span", func(s []tracingtest.Span) bool { return tracingtest.Find(s, "probe-"+tc.name) != nil })
			s := tracingtest.Find(got, "probe-"+tc.name)
			if s.Service != c.ServiceName || s.Attrs["k"] != "v" || s.ParentSpanID != "" {
				t.Fatalf("span %+v", s)
			}
		})
	}
}

// An https endpoint is verified against ca_files.
func TestExporterTLS(t *testing.T) {
	rcv := tracingtest.Start(t)
	tlsSrv := httptest.NewTLSServer(rcv)
	t.Cleanup(tlsSrv.Close)
	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GH_TRACE_KEY", "collector-key-123")
	c := tracing.Config{Exporter: "otlp-http", Endpoint: tlsSrv.URL, CAFiles: []string{"ca.pem"},
		Headers: map[string]config.Secret{"X-Collector-Key": "env:GH_TRACE_KEY"}}
	c.ApplyDefaults()
	p, err := tracing.New(context.Background(), &c, tracing.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, sp := p.Tracer().Start(context.Background(), "over-tls")
	sp.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	rcv.Wait(t, "the span over TLS", func(s []tracingtest.Span) bool { return tracingtest.Find(s, "over-tls") != nil })
}

// New fails at the key that cannot be honoured.
func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notpem.pem"), []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  tracing.Config
		ptr  string
	}{
		{"fail/missing-ca", tracing.Config{Endpoint: "https://c.example:4317", CAFiles: []string{"missing.pem"}}, "/tracing/ca_files"},
		{"fail/not-pem", tracing.Config{Endpoint: "https://c.example:4317", CAFiles: []string{"notpem.pem"}}, "/tracing/ca_files"},
		{"fail/unset-secret", tracing.Config{Endpoint: "https://c.example:4317", Headers: map[string]config.Secret{"X-K": "env:GH_TRACE_UNSET_VAR"}}, "/tracing/headers/X-K"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.ApplyDefaults()
			_, err := tracing.New(context.Background(), &c, tracing.Options{Dir: dir})
			var ke *config.KeyError
			if !errors.As(err, &ke) || ke.Pointer != tc.ptr {
				t.Fatalf("error %v, want one at %s", err, tc.ptr)
			}
		})
	}
}

// Probe reaches the collector with one empty export, and reports a
// collector that does not answer.
func TestProbe(t *testing.T) {
	rcv := tracingtest.Start(t)
	closed := httptest.NewServer(nil)
	closed.Close()
	tests := []struct {
		name string
		cfg  tracing.Config
		ok   bool
	}{
		{"ok/otlp-grpc", tracing.Config{Exporter: "otlp-grpc", Endpoint: "http://" + rcv.GRPCAddr}, true},
		{"ok/otlp-http", tracing.Config{Exporter: "otlp-http", Endpoint: rcv.HTTPURL}, true},
		{"fail/otlp-http-down", tracing.Config{Exporter: "otlp-http", Endpoint: closed.URL}, false},
		{"fail/otlp-grpc-down", tracing.Config{Exporter: "otlp-grpc", Endpoint: closed.URL, Timeout: config.Duration(time.Second)}, false},
		{"fail/otlp-http-wrong-path", tracing.Config{Exporter: "otlp-http", Endpoint: rcv.HTTPURL + "/elsewhere"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.ApplyDefaults()
			before := rcv.Exports()
			err := tracing.Probe(context.Background(), &c, "")
			if (err == nil) != tc.ok {
				t.Fatalf("probe error %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && rcv.Exports() != before+1 {
				t.Fatalf("exports %d, want %d", rcv.Exports(), before+1)
			}
		})
	}
}
