package gateway

import (
	"net/http"

	"github.com/gatehouse/gatehouse/gateway/edge"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// checkCredentialsOverHTTP refuses a plain HTTP listener in front of schemes
// whose credentials a client sends in the clear (passwords, API keys, bearer
// tokens) unless the operator says that listener only ever sees traffic that
// was encrypted up to a TLS-terminating balancer next to it.
func (c *Config) checkCredentialsOverHTTP(add func(ptr, format string, args ...any)) {
	if c.Listen.HTTPAddress == "" || c.Listen.AllowCredentialsOverHTTP {
		return
	}
	for name, s := range c.Schemes {
		switch s.Type {
		case SchemeBasic, SchemeAPIKey, SchemeBearer:
			add("/listen/http_address", "scheme %q (%s) would take credentials over plain HTTP on %s: serve it over listen.tls, "+
				"or set listen.allow_credentials_over_http: true if only a TLS-terminating balancer on this host or network reaches it",
				name, s.Type, c.Listen.HTTPAddress)
			return
		}
	}
}

// ownUpstreamHeaders are the headers the gateway itself sets upstream for
// cfg: client-sent copies are always removed, whatever request_headers.keep
// says.
func ownUpstreamHeaders(cfg *Config) []string {
	own := []string{cfg.UpstreamIdentity.Header, "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}
	if h := cfg.MTLS.UpstreamHeader; h != "" {
		own = append(own, h)
	}
	return own
}

// buildHeaderStripper makes the generation's stripper and the set of
// credential headers (API keys in headers) it spares until authentication.
func buildHeaderStripper(cfg *Config, ops map[*Operation]*pipeline.Op) (*edge.HeaderStripper, map[string]struct{}) {
	patterns := append(append([]string(nil), edge.DefaultStripHeaders...), cfg.RequestHeaders.Strip...)
	own := ownUpstreamHeaders(cfg)
	keep := make([]string, 0, len(cfg.RequestHeaders.Keep))
	for _, k := range cfg.RequestHeaders.Keep {
		mine := false
		for _, o := range own {
			if edge.FoldHeader(o) == edge.FoldHeader(k) {
				mine = true
			}
		}
		if !mine {
			keep = append(keep, k)
		}
	}
	s := edge.NewHeaderStripper(patterns, own, keep)
	creds := map[string]struct{}{}
	for _, op := range ops {
		for _, h := range op.APIKeyHeaders {
			creds[http.CanonicalHeaderKey(h)] = struct{}{}
		}
	}
	return s, creds
}
