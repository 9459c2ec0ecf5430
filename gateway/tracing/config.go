// Package tracing sets up OpenTelemetry tracing for the gateway process: the
// tracing config section, the OTLP exporter (gRPC or HTTP/protobuf), the
// sampler and the tracer provider, and their shutdown. It is off unless the
// config has a tracing section; then the request path starts spans through
// the Tracer here and internal/spans.
package tracing

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

// Config (tracing) exports the spans of every request over OTLP. Absent,
// tracing is off: no provider exists and the request path only checks a
// nil pointer.
type Config struct {
	// Exporter is the OTLP transport: otlp-grpc (default, port 4317) or
	// otlp-http (protobuf over HTTP, port 4318).
	Exporter string `json:"exporter"`
	// Endpoint is the collector's URL: https://host:port, or http://host:port
	// for plaintext (loopback hosts, or any host with Insecure). otlp-http
	// posts to its path, /v1/traces when none is given; otlp-grpc takes no
	// path.
	Endpoint string `json:"endpoint"`
	// Insecure allows a plaintext http:// endpoint on a non-loopback host.
	// Spans carry no credential, but they carry API, operation and
	// decision names.
	Insecure bool `json:"insecure"`
	// CAFiles replace the system roots for an https endpoint.
	CAFiles []string `json:"ca_files"`
	// Headers are sent with every export (a collector's API key), as
	// secret references: env:NAME or file:PATH.
	Headers map[string]config.Secret `json:"headers"`
	// SampleRatio is the fraction of new traces that are recorded (default
	// 1). A request that arrives with a traceparent follows its caller's
	// sampled flag.
	SampleRatio *float64 `json:"sample_ratio"`
	// ServiceName is the service.name resource attribute (default
	// gatehouse).
	ServiceName string `json:"service_name"`
	// Timeout bounds one export (default 10s).
	Timeout config.Duration `json:"timeout"`
}

// Exporters.
const (
	ExporterGRPC = "otlp-grpc"
	ExporterHTTP = "otlp-http"
)

// Defaults.
const (
	DefaultServiceName = "gatehouse"
	DefaultTimeout     = 10 * time.Second
	DefaultHTTPPath    = "/v1/traces"
)

// ApplyDefaults fills unset values.
func (c *Config) ApplyDefaults() {
	if c.Exporter == "" {
		c.Exporter = ExporterGRPC
	}
	if c.SampleRatio == nil {
		one := 1.0
		c.SampleRatio = &one
	}
	if c.ServiceName == "" {
		c.ServiceName = DefaultServiceName
	}
	config.SetDefault(&c.Timeout, DefaultTimeout)
}

// Check reports problems of the tracing section that need no other file;
// add takes a JSON pointer below the document root.
func (c *Config) Check(add func(ptr, format string, args ...any)) {
	switch c.Exporter {
	case ExporterGRPC, ExporterHTTP:
	default:
		add("/tracing/exporter", "unknown exporter %q (otlp-grpc or otlp-http)", c.Exporter)
	}
	if _, err := c.endpoint(); err != nil {
		add("/tracing/endpoint", "%v", err)
	}
	if r := c.SampleRatio; r != nil && (*r < 0 || *r > 1) {
		add("/tracing/sample_ratio", "sample_ratio %v is not between 0 and 1", *r)
	}
	for name := range c.Headers {
		if !validHeaderName(name) {
			add("/tracing/headers/"+config.EscapePointer(name), "%q is not a header name", name)
		}
	}
}

// endpoint is the parsed collector address.
type endpoint struct {
	tls  bool
	host string // host:port
	path string // otlp-http only
}

func (c *Config) endpoint() (endpoint, error) {
	u, err := url.Parse(c.Endpoint)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || u.RawQuery != "" || u.Opaque != "" {
		return endpoint{}, fmt.Errorf("endpoint %q is not a URL of the form https://host:port", c.Endpoint)
	}
	e := endpoint{host: u.Host, path: u.Path}
	switch u.Scheme {
	case "https":
		e.tls = true
		if c.Insecure {
			return endpoint{}, fmt.Errorf("insecure applies to http:// endpoints only")
		}
	case "http":
		if len(c.CAFiles) > 0 {
			return endpoint{}, fmt.Errorf("ca_files apply to https:// endpoints only")
		}
		if !c.Insecure && !loopback(u.Hostname()) {
			return endpoint{}, fmt.Errorf("endpoint %q is plaintext: use https, or set insecure: true to send spans unencrypted", c.Endpoint)
		}
	default:
		return endpoint{}, fmt.Errorf("endpoint %q is not an http:// or https:// URL", c.Endpoint)
	}
	if u.Port() == "" {
		return endpoint{}, fmt.Errorf("endpoint %q has no port (OTLP: 4317 for gRPC, 4318 for HTTP)", c.Endpoint)
	}
	switch c.Exporter {
	case ExporterGRPC:
		if e.path != "" && e.path != "/" {
			return endpoint{}, fmt.Errorf("an otlp-grpc endpoint has no path (got %q)", e.path)
		}
		e.path = ""
	case ExporterHTTP:
		if e.path == "" || e.path == "/" {
			e.path = DefaultHTTPPath
		}
	}
	return e, nil
}

func loopback(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
