// Package metrics holds the gateway's Prometheus registry and the metrics
// of the request path and reloads, and reports the serving generation's
// key sets and key managers at scrape time. Metrics are per Server (not
// the global registry) so tests can run several gateways in one process.
package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse/gateway/buildinfo"
)

// Metrics are one Server's registry and the metrics it updates itself.
type Metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	AuthnSeconds   prometheus.Histogram
	PolicySeconds  prometheus.Histogram
	RequestSeconds prometheus.Histogram
	Reloads        *prometheus.CounterVec
	Generation     prometheus.Gauge
	ReloadOK       prometheus.Gauge
}

// New is a registry with the Go and process collectors, the build info
// and the gateway's own metrics.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	fast := []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, .5}
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_requests_total",
			Help: "Requests by API, operation, decision (allow, deny, error, none) and status.",
		}, []string{"api", "operation", "decision", "status"}),
		AuthnSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatehouse_authentication_duration_seconds",
			Help:    "Time spent running the authenticators of one request.",
			Buckets: fast,
		}),
		PolicySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatehouse_policy_duration_seconds",
			Help:    "Time spent evaluating the policy decision of one request.",
			Buckets: fast,
		}),
		RequestSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatehouse_request_duration_seconds",
			Help:    "Whole request time through the gateway, upstream included.",
			Buckets: prometheus.DefBuckets,
		}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_reloads_total",
			Help: "Configuration and policy reloads by result (success, failure).",
		}, []string{"result"}),
		Generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_generation",
			Help: "Id of the configuration generation serving requests.",
		}),
		ReloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_last_reload_success",
			Help: "1 if the last reload succeeded, 0 if the previous generation is still serving after a failed one.",
		}),
	}
	reg.MustRegister(m.requests, m.AuthnSeconds, m.PolicySeconds, m.RequestSeconds, m.Reloads, m.Generation, m.ReloadOK, buildInfoMetric())
	return m
}

// buildInfoMetric is the constant gatehouse_build_info 1 whose labels say
// which build serves (the facts of `gatehouse version`), so dashboards can
// see a rollout progress replica by replica.
func buildInfoMetric() prometheus.Collector {
	b := buildinfo.Get()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gatehouse_build_info",
		Help: "Always 1; the labels name the running build: version, commit, build date, Go and OPA versions.",
	}, []string{"version", "commit", "date", "go_version", "opa_version"})
	g.WithLabelValues(b.Version, b.Commit, b.Date, b.GoVersion, b.OPA).Set(1)
	return g
}

// Registry lets other packages register their collectors (JWKS age, caches).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry (/metrics on the admin listener).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Request counts one request by API, operation, decision and status.
func (m *Metrics) Request(api, op, decision string, status int) {
	m.requests.WithLabelValues(api, op, decision, statusText(status)).Inc()
}

// statusText avoids an allocation for the common codes.
func statusText(s int) string {
	switch s {
	case 200:
		return "200"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	}
	return strconv.Itoa(s)
}
