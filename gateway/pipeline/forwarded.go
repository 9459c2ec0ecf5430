package pipeline

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/authn"
)

// Client certificates forwarded by a TLS-terminating proxy, and the checks
// of the certificate's host (SNI) and of what goes upstream about it.

// ForwardedCerts accepts a client certificate from a header written by a
// TLS-terminating load balancer — only when the TCP peer is one of the
// trusted proxies (and, if configured, presented a certificate from the
// proxy CA). From anyone else the header is removed and ignored. Built once
// per generation.
type ForwardedCerts struct {
	header    string // canonical
	chainHdr  string // rfc9440: Client-Cert-Chain
	format    string
	proxies   []netip.Prefix
	proxyAuth *authn.MTLS
	parsed    *authn.Cache[[]*x509.Certificate]
}

// NewForwardedCerts reads certificates from header in format (xfcc, pem or
// rfc9440) when the TCP peer is in proxies and, with proxyAuth, presented a
// certificate proxyAuth verifies.
func NewForwardedCerts(header, format string, proxies []netip.Prefix, proxyAuth *authn.MTLS) *ForwardedCerts {
	f := &ForwardedCerts{
		header:    http.CanonicalHeaderKey(header),
		format:    format,
		proxies:   proxies,
		proxyAuth: proxyAuth,
		parsed:    authn.NewCache[[]*x509.Certificate](1024, nil),
	}
	if f.format == "rfc9440" {
		f.chainHdr = f.header + "-Chain"
	}
	return f
}

// trusted reports whether the request's TCP peer is a trusted proxy.
func (f *ForwardedCerts) trusted(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	ok := false
	for _, p := range f.proxies {
		if p.Contains(a) {
			ok = true
			break
		}
	}
	if !ok {
		return false
	}
	if f.proxyAuth != nil {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			return false
		}
		if _, err := f.proxyAuth.Verify(r.TLS.PeerCertificates); err != nil {
			return false
		}
	}
	return true
}

// errAmbiguousForwarded: two copies of the certificate header.
var errAmbiguousForwarded = fmt.Errorf("%w: the header appears more than once", authn.ErrForwardedCert)

// parse reads the certificate header(s) of a trusted proxy's request; no
// header: nil, nil.
func (f *ForwardedCerts) parse(h http.Header) ([]*x509.Certificate, error) {
	vals := h[f.header]
	var chainVals []string
	if f.chainHdr != "" {
		chainVals = h[f.chainHdr]
	}
	if len(vals) == 0 {
		if len(chainVals) > 0 {
			return nil, fmt.Errorf("%w: %s without %s", authn.ErrForwardedCert, f.chainHdr, f.header)
		}
		return nil, nil
	}
	if len(vals) > 1 || len(chainVals) > 1 {
		return nil, errAmbiguousForwarded
	}
	chainVal := ""
	if len(chainVals) == 1 {
		chainVal = chainVals[0]
	}
	key := authn.CacheKey(sha256.Sum256([]byte(vals[0] + "\x00" + chainVal)))
	if certs, ok := f.parsed.Get(key); ok {
		return certs, nil
	}
	var certs []*x509.Certificate
	var err error
	switch f.format {
	case "pem":
		certs, err = authn.CertificatesFromPEMHeader(vals[0])
	case "rfc9440":
		certs, err = authn.CertificatesFromRFC9440(vals[0], chainVal)
	default:
		certs, err = authn.CertificatesFromXFCC(vals[0])
	}
	if err != nil {
		return nil, err
	}
	f.parsed.Put(key, certs, time.Now().Add(5*time.Minute))
	return certs, nil
}

// Prepare runs first, before identity headers are stripped: it
// decides where the request's client certificate comes from. From a trusted
// proxy, the proxy's header (its own TLS certificate is never a client
// identity); from anyone else, the TLS connection, and the header is
// dropped. Either way the header never reaches the policy or the upstream.
func (f *ForwardedCerts) Prepare(r *http.Request) *http.Request {
	if f == nil {
		return r
	}
	// A front door whose proxy verified the client certificate (Envoy's
	// ext_authz source certificate) has put it in the context already.
	if _, given := authn.ClientCertificates(r); given || !f.trusted(r) {
		delete(r.Header, f.header)
		if f.chainHdr != "" {
			delete(r.Header, f.chainHdr)
		}
		return r
	}
	chain, err := f.parse(r.Header)
	delete(r.Header, f.header)
	if f.chainHdr != "" {
		delete(r.Header, f.chainHdr)
	}
	return r.WithContext(authn.WithForwardedCertificates(r.Context(), chain, err))
}

// Misdirected reports a TLS request whose Host names another server than
// its SNI. On operations that take a client certificate it is answered 421,
// so that nobody can obtain one host's TLS treatment and address another
// (the Emissary bypass). Today the gateway requests a certificate the same
// way for every SNI and routes by path, so the two cannot disagree about
// trust; the check keeps it that way should TLS settings or routes ever
// depend on the host. A Host that is an IP literal names no server to
// compare with (clients connecting by address); requests from a trusted
// proxy carry the proxy's SNI and are exempt.
func Misdirected(r *http.Request) bool {
	if r.TLS == nil || r.TLS.ServerName == "" {
		return false
	}
	if _, viaProxy := authn.ClientCertificates(r); viaProxy {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return false
	}
	return !strings.EqualFold(host, r.TLS.ServerName)
}

// UpstreamXFCC is the XFCC value the gateway writes for the upstream: the
// verified certificate among the identities the policy accepted.
func UpstreamXFCC(ids []*authn.Identity) string {
	for _, id := range ids {
		if id.Certificate != nil {
			return authn.FormatXFCC(id.Certificate)
		}
	}
	return ""
}
