package edge

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// Two HTTP/2 floods cost a server without ever finishing a request, and
// Go's HTTP/2 server (net/http's bundle, as of Go 1.26; x/net/http2 is the
// same code) bounds neither:
//
//   - CONTINUATION flood (CVE-2024-27316 pattern): HEADERS without
//     END_HEADERS, then CONTINUATION frames for ever. Go stops a header
//     block only when its bytes pass the header-list limit, so empty
//     CONTINUATION frames are read, one by one, without end.
//   - Rapid reset (CVE-2023-44487): HEADERS then RST_STREAM, in a loop. Go
//     answers with GOAWAY only when its handlers fall behind (more than
//     4×MaxConcurrentStreams queued); a gateway that keeps up starts a
//     handler for every reset stream, and the upstream gets the requests.
//
// H2Conn sits between a client connection and the HTTP/2 server and reads
// the frame headers of what the client sends (payloads pass untouched). It
// counts CONTINUATION frames per header block and per second, and
// RST_STREAM frames per second. Past a bound it writes GOAWAY with
// ENHANCE_YOUR_CALM (at a frame boundary of what the server writes) and
// ends the connection: the offending frames never reach the server.

// H2Limits are the bounds of one HTTP/2 connection.
type H2Limits struct {
	// ContinuationsPerBlock: CONTINUATION frames after one HEADERS (or
	// PUSH_PROMISE). A header list of max_header_bytes in 16 KiB frames
	// needs a handful.
	ContinuationsPerBlock int
	// ContinuationsPerSecond and ResetsPerSecond are token buckets per
	// connection, with a burst of twice the rate.
	ContinuationsPerSecond int
	ResetsPerSecond        int
}

// DefaultH2Limits returns the bounds for a server whose header lists are at
// most maxHeaderBytes.
func DefaultH2Limits(maxHeaderBytes int) H2Limits {
	return H2Limits{
		ContinuationsPerBlock:  16 + maxHeaderBytes/4096,
		ContinuationsPerSecond: 1000,
		ResetsPerSecond:        100,
	}
}

// ErrH2Flood is what Read returns once the connection broke a bound.
var ErrH2Flood = errors.New("http2 flood: connection closed with GOAWAY ENHANCE_YOUR_CALM")

const clientPreface = http2.ClientPreface

// H2Conn is a server-side HTTP/2 connection whose client frames are counted.
type H2Conn struct {
	net.Conn
	state   *tls.ConnectionState
	limits  H2Limits
	onFlood func(reason string)

	// read side (the server's one reading goroutine)
	preface   int         // preface bytes still to skip
	in        frameCursor // the client's frames
	blockCont int
	lastID    uint32 // highest client stream id seen
	cont      bucket
	resets    bucket
	err       error

	// write side
	wmu     sync.Mutex
	out     frameCursor // the server's frames
	goaway  []byte      // a GOAWAY waiting for a frame boundary
	wclosed bool
}

// NewH2Conn counts c's client frames; state is its TLS state (the handler
// copies it to Request.TLS); onFlood is told the reason when it closes c.
func NewH2Conn(c net.Conn, state *tls.ConnectionState, l H2Limits, onFlood func(reason string)) *H2Conn {
	now := time.Now()
	return &H2Conn{
		Conn: c, state: state, limits: l, onFlood: onFlood, preface: len(clientPreface),
		cont:   newBucket(l.ContinuationsPerSecond, now),
		resets: newBucket(l.ResetsPerSecond, now),
	}
}

// TLSState is the connection's TLS state.
func (c *H2Conn) TLSState() *tls.ConnectionState { return c.state }

// Read passes the client's bytes on until a bound is broken.
func (c *H2Conn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.Conn.Read(p)
	if reason := c.scan(p[:n]); reason != "" {
		c.err = ErrH2Flood
		if c.onFlood != nil {
			c.onFlood(reason)
		}
		c.sendGoAway()
		// Nothing of this read reaches the server; it sees the end of
		// the connection and closes it.
		return 0, c.err
	}
	return n, err
}

// scan follows frame boundaries over b; it returns a reason to close.
func (c *H2Conn) scan(b []byte) string {
	if c.preface > 0 {
		k := min(c.preface, len(b))
		c.preface -= k
		b = b[k:]
	}
	for len(b) > 0 {
		var done bool
		if b, done = c.in.next(b); done {
			if reason := c.frame(); reason != "" {
				return reason
			}
		}
	}
	return ""
}

// frame acts on one complete frame header.
func (c *H2Conn) frame() string {
	h := c.in.hdr
	typ := http2.FrameType(h[3])
	id := (uint32(h[5])<<24 | uint32(h[6])<<16 | uint32(h[7])<<8 | uint32(h[8])) & (1<<31 - 1)
	switch typ {
	case http2.FrameHeaders:
		if id%2 == 1 && id > c.lastID {
			c.lastID = id
		}
		c.blockCont = 0
	case http2.FramePushPromise:
		c.blockCont = 0
	case http2.FrameContinuation:
		c.blockCont++
		if c.blockCont > c.limits.ContinuationsPerBlock {
			return "continuation_per_block"
		}
		if !c.cont.take(time.Now()) {
			return "continuation_rate"
		}
	case http2.FrameRSTStream:
		if !c.resets.take(time.Now()) {
			return "reset_rate"
		}
	}
	return ""
}

// sendGoAway writes GOAWAY(ENHANCE_YOUR_CALM) now if the server's output is
// at a frame boundary, else as soon as it is.
func (c *H2Conn) sendGoAway() {
	var buf bytes.Buffer
	_ = http2.NewFramer(&buf, nil).WriteGoAway(c.lastID, http2.ErrCodeEnhanceYourCalm, []byte("flood"))
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.out.atBoundary() {
		c.writeGoAway(buf.Bytes())
		return
	}
	c.goaway = buf.Bytes()
}

// writeGoAway writes the frame and ends the connection's output; wmu held.
func (c *H2Conn) writeGoAway(frame []byte) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Conn.Write(frame)
	c.goaway, c.wclosed = nil, true
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// Write passes the server's frames on, following their boundaries so that
// a GOAWAY can be put between two of them.
func (c *H2Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wclosed {
		return 0, ErrH2Flood
	}
	n, err := c.Conn.Write(p)
	c.track(p[:n])
	if c.goaway != nil && c.out.atBoundary() {
		c.writeGoAway(c.goaway)
	}
	return n, err
}

// track follows the frame boundaries of the server's output.
func (c *H2Conn) track(b []byte) {
	for len(b) > 0 {
		b, _ = c.out.next(b)
	}
}

// frameCursor follows HTTP/2 frame boundaries over a byte stream that
// arrives in arbitrary pieces: a 9-byte header, then its payload.
type frameCursor struct {
	hdr    [9]byte
	n      int    // header bytes collected
	remain uint32 // payload bytes of the current frame still to come
}

// next consumes b up to the end of the current payload or header; done
// reports that a whole frame header has just been read into hdr.
func (f *frameCursor) next(b []byte) (rest []byte, done bool) {
	if f.remain > 0 {
		k := min(uint32(len(b)), f.remain)
		f.remain -= k
		return b[k:], false
	}
	k := copy(f.hdr[f.n:], b)
	f.n += k
	if f.n < len(f.hdr) {
		return b[k:], false
	}
	f.n = 0
	f.remain = uint32(f.hdr[0])<<16 | uint32(f.hdr[1])<<8 | uint32(f.hdr[2])
	return b[k:], true
}

// atBoundary: no frame is half read.
func (f *frameCursor) atBoundary() bool { return f.n == 0 && f.remain == 0 }

// bucket is a token bucket refilled at rate per second, holding 2×rate.
type bucket struct {
	rate   float64
	tokens float64
	last   time.Time
}

func newBucket(rate int, now time.Time) bucket {
	return bucket{rate: float64(rate), tokens: 2 * float64(rate), last: now}
}

func (b *bucket) take(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	b.tokens = min(2*b.rate, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
