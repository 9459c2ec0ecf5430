package gateway

import (
	"net/http"

	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/edge"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// ownUpstreamHeaders are the headers the gateway itself sets upstream for
// cfg: client-sent copies are always removed, whatever request_headers.keep
// says.
func ownUpstreamHeaders(cfg *config.Config) []string {
	own := []string{cfg.UpstreamIdentity.Header, "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}
	if h := cfg.MTLS.UpstreamHeader; h != "" {
		own = append(own, h)
	}
	return own
}

// buildHeaderStripper makes the generation's stripper and the set of
// credential headers (API keys in headers) it spares until authentication.
func buildHeaderStripper(cfg *config.Config, ops map[*Operation]*pipeline.Op) (*edge.HeaderStripper, map[string]struct{}) {
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
