package authn

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net/http"
)

// The client certificate of a request comes from one of two places: the TLS
// connection (r.TLS.PeerCertificates), or — when the connection comes from a
// trusted TLS-terminating proxy — a header that proxy wrote. The gateway
// decides which before authentication (and before it strips client-sent
// identity headers) and records a forwarded chain in the request context;
// authenticators and the policy input read it through ClientCertificates
// only, so the two sources can never be mixed up.

type forwardedKey struct{}

// forwarded is what the gateway recorded for a request from a trusted
// proxy: the chain from the header, nil when the proxy forwarded none. Its
// presence means the TLS peer is the proxy, whose own certificate is never
// a client identity.
type forwarded struct {
	chain []*x509.Certificate
	err   error
}

// WithForwardedCertificates records that the request came through a trusted
// proxy, with the client certificate chain it forwarded (nil: none), or the
// error parsing the proxy's header (a presented but malformed credential).
func WithForwardedCertificates(ctx context.Context, chain []*x509.Certificate, err error) context.Context {
	return context.WithValue(ctx, forwardedKey{}, &forwarded{chain: chain, err: err})
}

// ForwardedCertificateError is the parse error of a trusted proxy's
// certificate header, nil when there was none.
func ForwardedCertificateError(r *http.Request) error {
	if f, ok := r.Context().Value(forwardedKey{}).(*forwarded); ok {
		return f.err
	}
	return nil
}

// ClientCertificates returns the client certificate chain of r, leaf first,
// and whether it was forwarded by a trusted proxy. No certificate: nil.
func ClientCertificates(r *http.Request) (chain []*x509.Certificate, viaProxy bool) {
	if f, ok := r.Context().Value(forwardedKey{}).(*forwarded); ok {
		return f.chain, true
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates, false
	}
	return nil, false
}

// Thumbprint is the RFC 8705 x5t#S256 of a certificate: the base64url
// (unpadded) SHA-256 of its DER, what a certificate-bound token's
// cnf["x5t#S256"] names.
func Thumbprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
