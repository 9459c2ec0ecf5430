package pipeline

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
)

// Facts are what `gatehouse explain` knows of a request it dry-runs. There
// is no connection, so the TLS state, the client certificate and the
// client's address are stated, not observed; Request turns them into the
// request Evaluate takes, as the reverse proxy's listener would have
// received it.
type Facts struct {
	Method string
	// Target is the request path and query, e.g. /petstore/v1/pets?limit=1.
	Target string
	Host   string
	Header http.Header
	Body   []byte
	// Certificates is the chain the client presented over TLS (none: no
	// client certificate).
	Certificates []*x509.Certificate
	// RemoteAddr is the client's address (host:port).
	RemoteAddr string
}

// Request is the request the facts describe, received over TLS 1.3 with
// Host as the server name. A body without a Content-Type is JSON.
func (f *Facts) Request() (*http.Request, error) {
	u, err := url.ParseRequestURI(f.Target)
	if err != nil {
		return nil, err
	}
	r := &http.Request{
		Method: f.Method, URL: u, RequestURI: f.Target, Host: f.Host, RemoteAddr: f.RemoteAddr,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: make(http.Header, len(f.Header)+1), Body: http.NoBody,
	}
	for k, vs := range f.Header {
		r.Header[http.CanonicalHeaderKey(k)] = append(r.Header[http.CanonicalHeaderKey(k)], vs...)
	}
	if len(f.Body) > 0 {
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(f.Body)), int64(len(f.Body))
		if r.Header.Get("Content-Type") == "" {
			r.Header.Set("Content-Type", "application/json")
		}
	}
	r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true, ServerName: f.Host, PeerCertificates: f.Certificates}
	return r, nil
}
