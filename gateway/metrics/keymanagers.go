package metrics

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/authn"
)

var (
	introspectionCallsDesc = prometheus.NewDesc("gatehouse_introspection_requests_total",
		"RFC 7662 calls to an external key manager by result (success: an answer, active or not; failure: none, the request failed closed). Counted per configuration generation.",
		[]string{"key_manager", "result"}, nil)
	introspectionCacheDesc = prometheus.NewDesc("gatehouse_introspection_cache_total",
		"Introspection answer cache lookups by result (hit, miss). Counted per configuration generation.",
		[]string{"key_manager", "result"}, nil)
	introspectionBreakerDesc = prometheus.NewDesc("gatehouse_introspection_breaker_open",
		"1 while the key manager's circuit breaker refuses calls (after 5 consecutive failures, for 10 s), else 0.",
		[]string{"key_manager"}, nil)
)

// KeyManagerCollector reports the external key managers of the serving
// generation (what the function returns, by name; nil before the first)
// at scrape time (nothing is updated on the request path beyond the
// clients' own atomic counters).
type KeyManagerCollector func() map[string]authn.KeyManager

// Describe implements prometheus.Collector.
func (c KeyManagerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- introspectionCallsDesc
	ch <- introspectionCacheDesc
	ch <- introspectionBreakerDesc
}

// Collect implements prometheus.Collector.
func (c KeyManagerCollector) Collect(ch chan<- prometheus.Metric) {
	kms := c()
	names := make([]string, 0, len(kms))
	for n := range kms {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		km, ok := kms[n].(*authn.Introspection)
		if !ok {
			continue
		}
		calls, failures := km.Calls(), km.Failures()
		hits, misses := km.CacheStats()
		open := 0.0
		if km.BreakerOpen() {
			open = 1
		}
		ch <- prometheus.MustNewConstMetric(introspectionCallsDesc, prometheus.CounterValue, float64(calls-min(failures, calls)), n, "success")
		ch <- prometheus.MustNewConstMetric(introspectionCallsDesc, prometheus.CounterValue, float64(failures), n, "failure")
		ch <- prometheus.MustNewConstMetric(introspectionCacheDesc, prometheus.CounterValue, float64(hits), n, "hit")
		ch <- prometheus.MustNewConstMetric(introspectionCacheDesc, prometheus.CounterValue, float64(misses), n, "miss")
		ch <- prometheus.MustNewConstMetric(introspectionBreakerDesc, prometheus.GaugeValue, open, n)
	}
}
