package extauthz

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/gateway/policybody"
)

// errRequest is a CheckRequest the original request cannot be rebuilt from
// without guessing; it is refused with 400, never allowed.
var errRequest = errors.New("ext_authz: cannot rebuild the original request")

// requestOf rebuilds the request Envoy is asking about: method, target
// (path with query, as the request line had it), authority, headers, body
// (with_request_body) and the downstream peer's address and certificate.
// The result goes through the same normalization and hostile-input rules
// as a request reaching the proxy.
func requestOf(ctx context.Context, req *authv3.CheckRequest) (*http.Request, error) {
	attrs := req.GetAttributes()
	hr := attrs.GetRequest().GetHttp()
	if hr == nil {
		return nil, errRequest
	}
	r := &http.Request{
		Method:     hr.GetMethod(),
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header, len(hr.GetHeaders())),
		Host:       hr.GetHost(),
		Body:       http.NoBody,
		RemoteAddr: peerAddress(attrs.GetSource()),
	}
	switch hr.GetScheme() {
	case "https":
		// input.request.scheme; no certificate rides on it (the peer
		// certificate comes from attributes.source below).
		r.TLS = &tls.ConnectionState{}
	case "", "http":
	default:
		return nil, errRequest
	}
	if hr.GetProtocol() == "HTTP/2" {
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
	}
	if !validMethod(r.Method) {
		return r, errRequest
	}
	target := hr.GetPath()
	r.RequestURI = target
	if target == "" || target[0] != '/' {
		return r, errRequest
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return r, errRequest
	}
	r.URL = u
	if err := copyHeaders(r.Header, hr); err != nil {
		return r, err
	}
	if v := r.Header.Get("Content-Length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return r, errRequest
		}
		r.ContentLength = n
	}
	body := hr.GetRawBody()
	if len(body) == 0 && hr.GetBody() != "" {
		body = []byte(hr.GetBody())
	}
	if len(body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if !wholeBody(r, len(body)) {
		ctx = policybody.WithUnavailable(ctx)
	}
	if len(body) > 0 && r.ContentLength == 0 {
		r.ContentLength = int64(len(body))
	}
	// The certificate Envoy verified on the downstream connection
	// (include_peer_certificate): the leaf, URL-encoded PEM. A principal
	// without the certificate proves nothing Gatehouse can verify against
	// an API's trust, so it is not an identity on its own.
	if c := attrs.GetSource().GetCertificate(); c != "" {
		chain, err := authn.CertificatesFromPEMHeader(c)
		ctx = authn.WithForwardedCertificates(ctx, chain, err)
	}
	return r.WithContext(ctx), nil
}

// wholeBody reports whether the CheckRequest carries the whole body of the
// original request (Envoy sends it with with_request_body): not when Envoy
// says it sent part (allow_partial_message), when the declared length
// differs, or when a body was declared or chunked but none came. An
// operation whose policy reads the body is refused otherwise.
func wholeBody(r *http.Request, n int) bool {
	if r.Header.Get("X-Envoy-Auth-Partial-Body") == "true" {
		return false
	}
	if r.ContentLength > 0 && r.ContentLength != int64(n) {
		return false
	}
	return n > 0 || len(r.Header["Transfer-Encoding"]) == 0
}

// copyHeaders takes the request headers from the header map (Envoy's
// encode_raw_headers: every value separately) or the map of joined values.
// Pseudo-headers (":path", ":authority") are not headers.
func copyHeaders(h http.Header, hr *authv3.AttributeContext_HttpRequest) error {
	if hm := hr.GetHeaderMap(); hm != nil {
		for _, hv := range hm.GetHeaders() {
			k := hv.GetKey()
			v := hv.GetValue()
			if raw := hv.GetRawValue(); len(raw) > 0 {
				v = string(raw)
			}
			if err := addHeader(h, k, v, nil); err != nil {
				return err
			}
		}
		return nil
	}
	// One backing array for the single values of the map: one allocation
	// instead of one per header.
	vals := make([]string, 0, len(hr.GetHeaders()))
	for k, v := range hr.GetHeaders() {
		if err := addHeader(h, k, v, &vals); err != nil {
			return err
		}
	}
	return nil
}

// addHeader adds one header; with vals (the map form: every name once) the
// value is stored in vals' backing array.
func addHeader(h http.Header, k, v string, vals *[]string) error {
	if strings.HasPrefix(k, ":") {
		return nil
	}
	if !validToken(k) || strings.ContainsAny(v, "\r\n\x00") {
		return errRequest
	}
	ck := http.CanonicalHeaderKey(k)
	if ck == "Host" {
		return nil // the authority is hr.Host
	}
	if vals != nil && len(h[ck]) == 0 {
		i := len(*vals)
		*vals = append(*vals, v)
		h[ck] = (*vals)[i : i+1 : i+1]
		return nil
	}
	h[ck] = append(h[ck], v)
	return nil
}

// peerAddress is the downstream peer as host:port ("" when Envoy sent none).
func peerAddress(p *authv3.AttributeContext_Peer) string {
	sa := p.GetAddress().GetSocketAddress()
	if sa == nil || sa.GetAddress() == "" {
		return ""
	}
	return net.JoinHostPort(sa.GetAddress(), strconv.FormatUint(uint64(sa.GetPortValue()), 10))
}

// validMethod: an RFC 9110 token, as net/http requires of a request line.
func validMethod(m string) bool { return m != "" && validToken(m) }

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
