package gateway_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Raw TCP access to the gateway: hand-written request bytes over TLS, for
// the shapes Go's client would normalize away (dot segments, absolute-form,
// folded headers, conflicting framing).

// rawConn opens a TLS connection that speaks HTTP/1.1 (ALPN), or plain TCP
// to the plain listener when the env has no TLS one.
func (e *env) rawConn() net.Conn {
	e.t.Helper()
	if a := e.srv.Addr(); a != nil {
		pool := x509.NewCertPool()
		pool.AddCert(e.ca.Certificate)
		d := &net.Dialer{Timeout: 10 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", a.String(), &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
		if err != nil {
			e.t.Fatalf("dial: %v", err)
		}
		return c
	}
	c, err := net.DialTimeout("tcp", e.srv.PlainAddr().String(), 10*time.Second)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	return c
}

// rawResponse is one response read off a raw connection; status 0 when the
// gateway closed the connection without answering.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
	close  bool // the response said Connection: close
	err    error
}

// raw writes req (a whole HTTP/1.1 message, CRLFs included) and reads one
// response. method tells the reader whether a body follows (HEAD).
func (e *env) raw(req, method string) rawResponse {
	e.t.Helper()
	c := e.rawConn()
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		return rawResponse{err: err}
	}
	return readRaw(bufio.NewReader(c), method)
}

func readRaw(br *bufio.Reader, method string) rawResponse {
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return rawResponse{err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: body, close: resp.Close}
}

// crlf turns a readable message ("\n" line ends) into wire form.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// rawN writes req (several pipelined requests) and reads up to n responses;
// it stops at the first read error (the gateway closed the connection).
func (e *env) rawN(req string, n int) []rawResponse {
	e.t.Helper()
	c := e.rawConn()
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		return []rawResponse{{err: err}}
	}
	br := bufio.NewReader(c)
	var out []rawResponse
	for i := 0; i < n; i++ {
		r := readRaw(br, "GET")
		if r.err != nil {
			break
		}
		out = append(out, r)
	}
	return out
}
