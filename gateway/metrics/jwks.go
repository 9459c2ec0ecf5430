package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/authn"
)

var (
	jwksAgeDesc = prometheus.NewDesc("gatehouse_jwks_age_seconds",
		"Time since the issuer's key set was last fetched successfully (absent until the first success). Past its refresh interval plus the stale window, the keys are no longer used.",
		[]string{"issuer"}, nil)
	jwksAvailableDesc = prometheus.NewDesc("gatehouse_jwks_available",
		"1 while the issuer has a usable key set, 0 when its tokens fail closed (503).",
		[]string{"issuer"}, nil)
	jwksFetchesDesc = prometheus.NewDesc("gatehouse_jwks_fetches_total",
		"Key set fetches by result (success, failure); counted per source since it was created.",
		[]string{"issuer", "result"}, nil)
)

// JWKSCollector reports the remote key sources of the serving generation
// (what the function returns; nil before the first) at scrape time
// (nothing is updated on the request path).
type JWKSCollector func() []*authn.RemoteJWKS

// Describe implements prometheus.Collector.
func (c JWKSCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jwksAgeDesc
	ch <- jwksAvailableDesc
	ch <- jwksFetchesDesc
}

// Collect implements prometheus.Collector.
func (c JWKSCollector) Collect(ch chan<- prometheus.Metric) {
	seen := map[string]bool{}
	for _, src := range c() {
		name := src.Name()
		if seen[name] {
			continue
		}
		seen[name] = true
		st := src.Status()
		if age, ok := src.Age(); ok {
			ch <- prometheus.MustNewConstMetric(jwksAgeDesc, prometheus.GaugeValue, age.Seconds(), name)
		}
		avail := 0.0
		if st.Available {
			avail = 1
		}
		ch <- prometheus.MustNewConstMetric(jwksAvailableDesc, prometheus.GaugeValue, avail, name)
		ch <- prometheus.MustNewConstMetric(jwksFetchesDesc, prometheus.CounterValue, float64(st.Fetches-st.Failures), name, "success")
		ch <- prometheus.MustNewConstMetric(jwksFetchesDesc, prometheus.CounterValue, float64(st.Failures), name, "failure")
	}
}
