package config

// EdgeMTLSConfig is the listener-wide part of mutual TLS: client certificates
// forwarded by a TLS-terminating load balancer, and the XFCC header the
// gateway writes for upstreams.
type EdgeMTLSConfig struct {
	ForwardedCertificate *ForwardedCertConfig `json:"forwarded_certificate"`
	// UpstreamHeader, when set, carries the verified certificate's
	// identity upstream in Envoy's XFCC format (Hash, Subject, URI, DNS),
	// written by the gateway; a client's copy never passes.
	UpstreamHeader string `json:"upstream_header"`
}

// ForwardedCertConfig accepts a client certificate from a header, only from
// the listed proxies.
type ForwardedCertConfig struct {
	Header         string   `json:"header"`
	Format         string   `json:"format"` // xfcc, pem, rfc9440
	TrustedProxies []string `json:"trusted_proxies"`
	// ProxyCAFiles, when set, also requires the proxy's own connection to
	// present a certificate issued by one of these CAs.
	ProxyCAFiles []string `json:"proxy_ca_files"`
}
