package gateway_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// HTTP/2 floods sent as raw frames (golang.org/x/net/http2's Framer) over
// loopback TLS: a CONTINUATION flood (CVE-2024-27316 pattern) and rapid
// reset (CVE-2023-44487). Each must end with GOAWAY ENHANCE_YOUR_CALM and a
// closed connection, and nothing of it may reach the upstream.

// h2Client is one raw HTTP/2 connection to the gateway.
type h2Client struct {
	t    *testing.T
	conn *tls.Conn
	fr   *http2.Framer
	// goaway gets the first GOAWAY's code, hdrs a value per response
	// HEADERS frame; done closes when the connection ends.
	goaway chan http2.ErrCode
	done   chan struct{}
	hdrs   chan struct{}
}

func (e *env) h2Dial(t *testing.T) *h2Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(e.ca.Certificate)
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", e.srv.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN %q", p)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	h := &h2Client{t: t, conn: c, fr: http2.NewFramer(c, c), goaway: make(chan http2.ErrCode, 1),
		done: make(chan struct{}), hdrs: make(chan struct{}, 1<<16)}
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	go h.read()
	return h
}

// read consumes the server's frames until the connection ends.
func (h *h2Client) read() {
	defer close(h.done)
	fr := http2.NewFramer(io.Discard, h.conn)
	for {
		_ = h.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			select {
			case h.goaway <- f.ErrCode:
			default:
			}
		case *http2.HeadersFrame:
			h.hdrs <- struct{}{}
		}
	}
}

// block is the HPACK header block of a GET of path.
func block(path string) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: "localhost"}, {Name: ":path", Value: path},
	} {
		_ = enc.WriteField(f)
	}
	return buf.Bytes()
}

// closedWithCalm waits for GOAWAY ENHANCE_YOUR_CALM and the end of the
// connection.
func (h *h2Client) closedWithCalm() {
	h.t.Helper()
	select {
	case code := <-h.goaway:
		if code != http2.ErrCodeEnhanceYourCalm {
			h.t.Fatalf("GOAWAY %v, want ENHANCE_YOUR_CALM", code)
		}
	case <-h.done:
		select {
		case code := <-h.goaway:
			if code != http2.ErrCodeEnhanceYourCalm {
				h.t.Fatalf("GOAWAY %v, want ENHANCE_YOUR_CALM", code)
			}
		default:
			h.t.Fatal("connection ended without GOAWAY")
		}
	case <-time.After(30 * time.Second):
		h.t.Fatal("no GOAWAY: the flood was never cut off")
	}
	select {
	case <-h.done:
	case <-time.After(30 * time.Second):
		h.t.Fatal("GOAWAY sent but the connection stayed open")
	}
}

func TestHTTP2ContinuationFlood(t *testing.T) {
	e := hostileEnv(t)
	tests := []struct {
		name    string
		payload []byte // of each CONTINUATION frame
	}{
		{"fail/empty-continuation-frames", nil},
		{"fail/one-small-field-per-continuation", []byte{0x00, 0x01, 'x', 0x01, 'a'}}, // x: a, literal, never indexed
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.upstream.count()
			h := e.h2Dial(t)
			if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block("/shapes/public"), EndStream: true}); err != nil {
				t.Fatal(err)
			}
			sent := 0
			for ; sent < 200000; sent++ {
				if err := h.fr.WriteContinuation(1, false, tc.payload); err != nil {
					break
				}
				if sent%64 == 0 {
					select {
					case <-h.done:
					default:
						continue
					}
					break
				}
			}
			h.closedWithCalm()
			if n := e.upstream.count() - before; n != 0 {
				t.Fatalf("upstream got %d requests", n)
			}
			t.Logf("connection closed after the client wrote %d CONTINUATION frames", sent)
		})
	}
	t.Run("ok/header-block-in-a-few-continuations", func(t *testing.T) {
		before := e.upstream.count()
		h := e.h2Dial(t)
		b := block("/shapes/public")
		if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:2], EndStream: true}); err != nil {
			t.Fatal(err)
		}
		for i := 2; i < len(b); i += 4 {
			if err := h.fr.WriteContinuation(1, i+4 >= len(b), b[i:min(i+4, len(b))]); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-h.hdrs:
		case <-h.done:
			t.Fatal("connection closed")
		case <-time.After(30 * time.Second):
			t.Fatal("no response")
		}
		if n := e.upstream.count() - before; n != 1 {
			t.Fatalf("upstream got %d requests, want 1", n)
		}
	})
}

func TestHTTP2RapidReset(t *testing.T) {
	e := hostileEnv(t)
	t.Run("fail/headers-and-reset-loop", func(t *testing.T) {
		before := e.upstream.count()
		h := e.h2Dial(t)
		b := block("/shapes/public")
		sent := 0
		for id := uint32(1); sent < 100000; id += 2 {
			err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b, EndStream: true, EndHeaders: true})
			if err == nil {
				err = h.fr.WriteRSTStream(id, http2.ErrCodeCancel)
			}
			if err != nil {
				break
			}
			sent++
			if sent%64 == 0 {
				select {
				case <-h.done:
				default:
					continue
				}
				break
			}
		}
		h.closedWithCalm()
		got := e.upstream.count() - before
		t.Logf("connection closed after %d HEADERS+RST_STREAM pairs; upstream got %d", sent, got)
		// The bound is 200 resets at once: the loop is cut off long
		// before it could reach the upstream thousands of times.
		if got > 200 {
			t.Fatalf("upstream got %d reset requests", got)
		}
	})
	t.Run("ok/a-few-cancelled-requests-keep-the-connection", func(t *testing.T) {
		h := e.h2Dial(t)
		b := block("/shapes/public")
		for id := uint32(1); id < 40; id += 2 {
			if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b, EndStream: true, EndHeaders: true}); err != nil {
				t.Fatal(err)
			}
			if err := h.fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 41, BlockFragment: b, EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(30 * time.Second)
		for {
			select {
			case <-h.hdrs:
				// A response on the still-open connection.
				select {
				case code := <-h.goaway:
					t.Fatalf("GOAWAY %v", code)
				default:
				}
				return
			case <-h.done:
				t.Fatal("connection closed")
			case <-deadline:
				t.Fatal("no response")
			}
		}
	})
}
