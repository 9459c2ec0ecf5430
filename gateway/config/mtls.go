package config

import (
	"fmt"
	"net/http"
	"strings"

	shared "github.com/gatehouse/gatehouse/internal/config"
)

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

// Forwarded certificate formats and their default headers.
var forwardedFormats = map[string]string{
	"xfcc":    "X-Forwarded-Client-Cert",
	"pem":     "X-SSL-Client-Cert",
	"rfc9440": "Client-Cert",
}

// checkMTLS is the part of Config.check for the keys above.
func (c *Config) checkMTLS(add func(ptr, format string, args ...any)) {
	for i, a := range c.APIs {
		if a.MTLS == nil {
			continue
		}
		ptr := fmt.Sprintf("/apis/%d/mtls", i)
		if len(a.ClientCAFiles) == 0 {
			add(ptr, "mtls settings need the API's client CA: set client_ca_files")
		}
		a.MTLS.Validate(ptr, add)
	}
	if a := c.MTLS.UpstreamHeader; a != "" {
		if !certHeaderOK(a, c.UpstreamIdentity.Header) {
			add("/mtls/upstream_header", "%q cannot carry the certificate identity: it is a framing, hop-by-hop or gateway-owned header", a)
		}
	}
	f := c.MTLS.ForwardedCertificate
	if f == nil {
		return
	}
	if f.Format == "" {
		f.Format = "xfcc"
	}
	if f.Header == "" {
		f.Header = forwardedFormats[f.Format]
	}
	if len(f.TrustedProxies) == 0 {
		add("/mtls/forwarded_certificate/trusted_proxies", "a forwarded certificate is only accepted from trusted proxies: list at least one address or CIDR")
	}
	for k, p := range f.TrustedProxies {
		if _, err := shared.ParsePrefix(p); err != nil {
			add(fmt.Sprintf("/mtls/forwarded_certificate/trusted_proxies/%d", k), "%v", err)
		}
	}
	if !certHeaderOK(f.Header, c.UpstreamIdentity.Header) {
		add("/mtls/forwarded_certificate/header", "%q cannot carry a forwarded certificate", f.Header)
	}
}

// certHeaderOK refuses header names that framing, hop-by-hop handling,
// credentials or the gateway itself own.
func certHeaderOK(name, assertionHeader string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Te", "Trailer", "Keep-Alive",
		"Proxy-Authorization", "Proxy-Connection", "Authorization", "Cookie", "X-Request-Id", "X-Forwarded-For",
		"X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded":
		return false
	}
	return !strings.EqualFold(name, assertionHeader)
}
