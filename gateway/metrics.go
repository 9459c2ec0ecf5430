package gateway

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse/gateway/buildinfo"
)

// metrics are per Server (not the global registry) so tests can run several
// gateways in one process.
type metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	authnSeconds   prometheus.Histogram
	policySeconds  prometheus.Histogram
	requestSeconds prometheus.Histogram
	reloads        *prometheus.CounterVec
	generation     prometheus.Gauge
	reloadOK       prometheus.Gauge
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	fast := []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, .5}
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_requests_total",
			Help: "Requests by API, operation, decision (allow, deny, error, none) and status.",
		}, []string{"api", "operation", "decision", "status"}),
		authnSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatehouse_authentication_duration_seconds",
			Help:    "Time spent running the authenticators of one request.",
			Buckets: fast,
		}),
		policySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatehouse_policy_duration_seconds",
			Help:    "Time spent evaluating the policy decision of one request.",
			Buckets: fast,
		}),
		requestSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatehouse_request_duration_seconds",
			Help:    "Whole request time through the gateway, upstream included.",
			Buckets: prometheus.DefBuckets,
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_reloads_total",
			Help: "Configuration and policy reloads by result (success, failure).",
		}, []string{"result"}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_generation",
			Help: "Id of the configuration generation serving requests.",
		}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_last_reload_success",
			Help: "1 if the last reload succeeded, 0 if the previous generation is still serving after a failed one.",
		}),
	}
	reg.MustRegister(m.requests, m.authnSeconds, m.policySeconds, m.requestSeconds, m.reloads, m.generation, m.reloadOK, buildInfoMetric())
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
func (m *metrics) Registry() *prometheus.Registry { return m.reg }

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *metrics) request(api, op, decision string, status int) {
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
