package gateway

import (
	"net/netip"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
	shared "github.com/gatehouse/gatehouse/internal/config"
)

// The forwarded client certificate itself is read by
// pipeline.ForwardedCerts (gateway/pipeline/forwarded.go).

// newForwardedCerts builds the extractor of cfg.mtls.forwarded_certificate
// (nil when not configured) and the proxy CA trust, if any, for watching.
func newForwardedCerts(cfg *config.Config) (*pipeline.ForwardedCerts, *authn.Trust, error) {
	fc := cfg.MTLS.ForwardedCertificate
	if fc == nil {
		return nil, nil, nil
	}
	var proxies []netip.Prefix
	for _, p := range fc.TrustedProxies {
		pfx, err := shared.ParsePrefix(p)
		if err != nil {
			return nil, nil, err
		}
		proxies = append(proxies, pfx)
	}
	var trust *authn.Trust
	var proxyAuth *authn.MTLS
	if len(fc.ProxyCAFiles) > 0 {
		var err error
		if trust, err = authn.NewTrust("forwarding proxy", shared.ResolvePaths(cfg.Dir, fc.ProxyCAFiles), nil); err != nil {
			return nil, nil, err
		}
		if proxyAuth, err = authn.NewMTLS("forwarding-proxy", authn.MTLSConfig{Trust: trust}); err != nil {
			return nil, nil, err
		}
	}
	return pipeline.NewForwardedCerts(fc.Header, fc.Format, proxies, proxyAuth), trust, nil
}

// trustList returns the per-API trusts the factory built, for watching.
func (f *authnFactory) trustList() []*authn.Trust {
	out := make([]*authn.Trust, 0, len(f.trusts))
	for _, t := range f.trusts {
		out = append(out, t)
	}
	return out
}
