package tracing

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/spans"
)

// Options is what New needs besides the tracing section.
type Options struct {
	// Dir resolves relative ca_files and file: secrets.
	Dir string
	// Version is the service.version resource attribute, InstanceID
	// service.instance.id (the replica: the decision logs' labels.id).
	Version, InstanceID string
	// Log receives export failures (at most one line per logEvery).
	Log hclog.Logger
}

// Provider is the process's tracer provider: spans are batched and
// exported in the background (the request never waits for the collector;
// when the queue of 2048 spans is full, new spans are dropped).
type Provider struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
}

// New builds the exporter and the tracer provider. It reads the CA files
// and secrets now, so a config that cannot be honoured fails at start (and
// in `gatehouse check`); it does not connect: the exporter dials when it
// first exports, and retries.
func New(ctx context.Context, c *Config, o Options) (*Provider, error) {
	client, err := newClient(c, o.Dir, true)
	if err != nil {
		return nil, err
	}
	exp, err := otlptrace.New(ctx, client)
	if err != nil {
		return nil, config.AtKey("/tracing", err)
	}
	attrs := []attribute.KeyValue{
		attribute.String("service.name", c.ServiceName),
		attribute.String("service.version", o.Version),
	}
	if o.InstanceID != "" {
		attrs = append(attrs, attribute.String("service.instance.id", o.InstanceID))
	}
	res := resource.NewSchemaless(attrs...)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*c.SampleRatio))),
	)
	if o.Log != nil {
		routeErrors(o.Log.Named("tracing"))
	}
	return &Provider{tp: tp, tracer: tp.Tracer(spans.Scope)}, nil
}

// Probe sends the collector one empty export, without retrying: `gatehouse
// check --online`.
func Probe(ctx context.Context, c *Config, dir string) error {
	client, err := newClient(c, dir, false)
	if err != nil {
		return err
	}
	if err := client.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = client.Stop(context.WithoutCancel(ctx)) }()
	return client.UploadTraces(ctx, nil)
}

// newClient is the OTLP client of c: its endpoint, TLS trust, headers and
// timeout. retry: retry failed exports with backoff (up to a minute), as
// a long-running exporter should.
func newClient(c *Config, dir string, retry bool) (otlptrace.Client, error) {
	ep, err := c.endpoint()
	if err != nil {
		return nil, config.AtKey("/tracing/endpoint", err)
	}
	headers := make(map[string]string, len(c.Headers))
	for name, ref := range c.Headers {
		v, err := ref.Resolve(dir)
		if err != nil {
			return nil, config.AtKey("/tracing/headers/"+config.EscapePointer(name), err)
		}
		headers[name] = string(v)
	}
	var tlsCfg *tls.Config
	if ep.tls {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
		if len(c.CAFiles) > 0 {
			pool, err := loadCAs(dir, c.CAFiles)
			if err != nil {
				return nil, config.AtKey("/tracing/ca_files", err)
			}
			tlsCfg.RootCAs = pool
		}
	}
	switch c.Exporter {
	case ExporterGRPC:
		opts := []otlptracegrpc.Option{
			otlptracegrpc.WithEndpoint(ep.host),
			otlptracegrpc.WithTimeout(c.Timeout.D()),
			otlptracegrpc.WithHeaders(headers),
		}
		if tlsCfg != nil {
			opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(tlsCfg)))
		} else {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if !retry {
			opts = append(opts, otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
		}
		return otlptracegrpc.NewClient(opts...), nil
	case ExporterHTTP:
		opts := []otlptracehttp.Option{
			otlptracehttp.WithEndpoint(ep.host),
			otlptracehttp.WithURLPath(ep.path),
			otlptracehttp.WithTimeout(c.Timeout.D()),
			otlptracehttp.WithHeaders(headers),
		}
		if tlsCfg != nil {
			opts = append(opts, otlptracehttp.WithTLSClientConfig(tlsCfg))
		} else {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		if !retry {
			opts = append(opts, otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
		}
		return otlptracehttp.NewClient(opts...), nil
	}
	return nil, config.AtKey("/tracing/exporter", fmt.Errorf("unknown exporter %q", c.Exporter))
}

func loadCAs(dir string, files []string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, f := range files {
		pem, err := os.ReadFile(config.ResolvePath(dir, f))
		if err != nil {
			return nil, err
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", f)
		}
	}
	return pool, nil
}

// Tracer starts the gateway's server spans.
func (p *Provider) Tracer() trace.Tracer { return p.tracer }

// ForceFlush exports every span ended so far.
func (p *Provider) ForceFlush(ctx context.Context) error { return p.tp.ForceFlush(ctx) }

// Shutdown exports what is queued, until ctx ends, and stops the exporter.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	if err := p.tp.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("tracing shutdown: %w", err)
	}
	return nil
}

// logEvery bounds how often export failures are logged: a collector that
// is down fails every batch.
const logEvery = 30 * time.Second

var lastLogged atomic.Int64

// routeErrors sends OpenTelemetry's own errors (a failed export) to log,
// instead of the standard logger's plain-text lines on stderr that would
// break the JSON log stream. The handler is process-wide, as OpenTelemetry's
// is.
func routeErrors(log hclog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		now := time.Now().UnixNano()
		last := lastLogged.Load()
		if now-last < int64(logEvery) || !lastLogged.CompareAndSwap(last, now) {
			return
		}
		log.Warn("span export failed; spans are dropped while the collector is unreachable", "error", err.Error())
	}))
}
