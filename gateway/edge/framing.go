package edge

import (
	"bytes"
	"crypto/tls"
	"net"
	"sync/atomic"
)

// HTTP/1 framing that net/http accepts but RFC 9112 forbids — a bare LF as a
// line end (§2.2), obs-fold (§5.2), Content-Length together with
// Transfer-Encoding (§6.1), Transfer-Encoding in HTTP/1.0 (§6.1) — is what
// request smuggling is made of: a front proxy and the gateway disagreeing on
// where a request ends. Go's server reads such requests without a trace
// (Content-Length is dropped, folds are joined), so the handler cannot tell.
// H1Conn sits between the connection and net/http and reads the same bytes
// the server reads, tracking request boundaries (heads, Content-Length and
// chunked bodies, trailers). On a violation it inserts one NUL byte into the
// offending line before net/http sees it: the server then answers 400 itself
// and closes the connection, exactly as for any other malformed head. After
// that, and after a request asking for a protocol upgrade (the handler closes
// the connection unless the upgrade happens), bytes pass through untouched.
//
// Chunked bodies get the same treatment (a bare LF or CR in a chunk-size
// line or extension, anything but CRLF after chunk data, a chunk size
// net/http would refuse, bad trailers): net/http accepts bare LFs there too.
// Such a body is already being streamed upstream when the violation arrives,
// so the poisoned line makes net/http's chunked reader fail: the upstream
// request is aborted mid-body (the upstream never sees a complete request),
// and the proxy, which finds the violation recorded on the connection
// (bodyRejected), answers 400 and closes the connection.

// H1Conn is a server-side HTTP/1 connection whose heads are inspected.
type H1Conn struct {
	net.Conn
	// state is the TLS state when the gateway terminated TLS itself
	// (nil on the plain listener); the handler copies it to Request.TLS.
	state  *tls.ConnectionState
	scan   h1Scanner
	in     []byte
	out    []byte
	outBuf []byte
	err    error
	// bodyRejected: a chunked body of the current request broke the
	// framing rules (read by the proxy's error handler).
	bodyRejected atomic.Bool
}

// NewH1Conn inspects c's HTTP/1 heads; state is the TLS state when the
// gateway terminated TLS itself; reject is told the reason of each refusal.
func NewH1Conn(c net.Conn, state *tls.ConnectionState, reject func(reason string)) *H1Conn {
	h := &H1Conn{Conn: c, state: state}
	h.scan = h1Scanner{lineStart: true, reject: func(reason string, inBody bool) {
		if inBody {
			h.bodyRejected.Store(true)
		}
		if reject != nil {
			reject(reason)
		}
	}}
	return h
}

// BodyRejected reports whether a chunked body on this connection broke the
// framing rules: the upstream request was aborted, the answer is 400.
func (c *H1Conn) BodyRejected() bool { return c.bodyRejected.Load() }

// TLSState is the TLS state given to NewH1Conn (nil on a plain listener).
func (c *H1Conn) TLSState() *tls.ConnectionState { return c.state }

// Read returns the connection's bytes, with a NUL inserted where a head
// breaks the rules above.
func (c *H1Conn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if err := c.err; err != nil {
			// Returned once, after the bytes that came with it: a read
			// deadline (net/http aborting its background read) is not
			// the end of the connection.
			c.err = nil
			return 0, err
		}
		if c.scan.state == stPass {
			return c.Conn.Read(p)
		}
		if c.in == nil {
			c.in = make([]byte, 4096)
			c.outBuf = make([]byte, 0, 4096+64)
		}
		n, err := c.Conn.Read(c.in)
		if n == 0 && err != nil {
			return 0, err
		}
		c.out = c.scan.feed(c.in[:n], c.outBuf[:0])
		c.err = err
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// Scanner states.
const (
	stHead      = iota // request line and header fields
	stBody             // Content-Length bytes
	stChunkLine        // chunk-size [; ext]
	stChunkData        // chunk bytes
	stChunkEnd         // CRLF after chunk data
	stTrailer          // trailer fields after the last chunk
	stPass             // no more inspection
)

// maxTrackedLine bounds how much of one line is kept for analysis; longer
// lines are passed on (net/http refuses heads past max_header_bytes).
const maxTrackedLine = 256

// h1Scanner follows request boundaries on one connection.
type h1Scanner struct {
	state     int
	lineStart bool
	lineNo    int // within the head; 0 is the request line
	prevCR    bool
	emptyLine bool
	line      []byte
	sawCL     bool
	sawTE     bool
	upgrade   bool
	http10    bool
	length    int64 // Content-Length, or remaining bytes of a body or chunk
	reject    func(reason string, inBody bool)
}

// feed scans in and appends it, with any poison byte, to out.
func (s *h1Scanner) feed(in, out []byte) []byte {
	for i := 0; i < len(in); {
		switch s.state {
		case stPass:
			return append(out, in[i:]...)
		case stBody, stChunkData:
			k := len(in) - i
			if int64(k) > s.length {
				k = int(s.length)
			}
			out = append(out, in[i:i+k]...)
			i += k
			s.length -= int64(k)
			if s.length == 0 {
				if s.state == stBody {
					s.next()
				} else {
					s.state = stChunkEnd
				}
			}
		case stChunkEnd:
			// Exactly CRLF after chunk data (RFC 9112 §7.1).
			b := in[i]
			i++
			switch {
			case !s.prevCR && b == '\r':
				s.prevCR = true
			case s.prevCR && b == '\n':
				s.prevCR = false
				s.state, s.lineStart = stChunkLine, true
			default:
				out = s.poison("bad_chunk_end", out)
			}
			out = append(out, b)
		default:
			if n := s.plainRun(in[i:]); n > 0 {
				seg := in[i : i+n]
				if room := maxTrackedLine - len(s.line); room > 0 {
					s.line = append(s.line, seg[:min(room, n)]...)
				}
				out = append(out, seg...)
				i += n
				continue
			}
			out = s.byte(in[i], out)
			i++
		}
	}
	return out
}

// plainRun is how many bytes at the start of in byte() would only copy
// and track: inside a line (not at its start, no CR pending), up to the
// next CR or LF. They are taken in one step, found with IndexByte rather
// than a call per byte: the scanner reads every head of every request
// (4.5% of the gateway's CPU on a repeated token in `make bench-load`).
// FuzzH1ScannerPlainRuns holds feed to the byte-at-a-time reading.
func (s *h1Scanner) plainRun(in []byte) int {
	if s.lineStart || s.prevCR {
		return 0
	}
	n := bytes.IndexByte(in, '\n')
	if n < 0 {
		n = len(in)
	}
	if r := bytes.IndexByte(in[:n], '\r'); r >= 0 {
		return r
	}
	return n
}

// poison inserts the NUL that makes net/http refuse the current line (in a
// trailer, trailerPoison), and
// stops inspecting: the server closes the connection after its 400.
func (s *h1Scanner) poison(reason string, out []byte) []byte {
	inBody, trailer := s.state != stHead, s.state == stTrailer
	s.state = stPass
	if s.reject != nil {
		s.reject(reason, inBody)
	}
	if trailer {
		return append(out, trailerPoison...)
	}
	return append(out, 0)
}

// trailerPoison is what a broken trailer gets: net/http reads trailers only
// once it sees a CRLFCRLF ahead (it would wait for one), then refuses the
// field line that is a lone NUL.
const trailerPoison = "\x00\r\n\x00\r\n\r\n"

// byte handles one byte of a head, a chunk-size line or a trailer.
func (s *h1Scanner) byte(b byte, out []byte) []byte {
	if s.lineStart {
		s.lineStart = false
		s.emptyLine = b == '\r' || b == '\n'
		if s.state == stHead && s.lineNo > 0 {
			switch {
			case b == ' ' || b == '\t':
				return append(s.poison("obs_fold", out), b)
			case s.emptyLine && s.sawTE && s.sawCL:
				return append(s.poison("content_length_with_transfer_encoding", out), b)
			case s.emptyLine && s.sawTE && s.http10:
				return append(s.poison("transfer_encoding_in_http10", out), b)
			}
		}
	}
	if b == '\n' {
		if !s.prevCR {
			reason := "bare_lf"
			if s.state != stHead {
				reason = "bare_lf_in_chunked_body"
			}
			return append(s.poison(reason, out), b)
		}
		s.prevCR = false
		out = append(out, b)
		if reason := s.endLine(); reason != "" {
			out = s.poison(reason, out)
		}
		return out
	}
	if s.prevCR && s.state != stHead {
		// A CR not followed by LF in a chunk line or trailer (net/http
		// refuses it in heads itself).
		return append(s.poison("bare_cr_in_chunked_body", out), b)
	}
	s.prevCR = b == '\r'
	if len(s.line) < maxTrackedLine {
		s.line = append(s.line, b)
	}
	return append(out, b)
}

var (
	hContentLength    = []byte("content-length")
	hTransferEncoding = []byte("transfer-encoding")
	hUpgrade          = []byte("upgrade")
	http10Suffix      = []byte("HTTP/1.0")
)

// endLine acts on a complete line; it returns a reason to refuse it.
func (s *h1Scanner) endLine() string {
	line := bytes.TrimSuffix(s.line, []byte{'\r'})
	s.line = s.line[:0]
	s.lineStart = true
	switch s.state {
	case stHead:
		switch {
		case s.lineNo == 0:
			s.http10 = bytes.HasSuffix(line, http10Suffix)
		case s.emptyLine:
			s.endHead()
			return ""
		default:
			s.field(line)
		}
		s.lineNo++
	case stTrailer:
		if s.emptyLine {
			s.next()
		}
	case stChunkLine:
		n, ok := chunkSize(line)
		switch {
		case !ok:
			// net/http refuses it too, but the proxy would answer 502.
			return "bad_chunk_size"
		case n == 0:
			s.state = stTrailer
		default:
			s.state, s.length = stChunkData, n
		}
	}
	return ""
}

// field records the framing-relevant header fields.
func (s *h1Scanner) field(line []byte) {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return
	}
	name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
	switch {
	case bytes.EqualFold(name, hContentLength):
		s.sawCL = true
		s.length = -1
		if n, ok := decimal(value); ok {
			s.length = n
		}
	case bytes.EqualFold(name, hTransferEncoding):
		s.sawTE = true
	case bytes.EqualFold(name, hUpgrade):
		s.upgrade = true
	}
}

// endHead picks how the body is framed, as net/http does.
func (s *h1Scanner) endHead() {
	switch {
	case s.upgrade:
		s.state = stPass
	case s.sawTE:
		s.state, s.lineStart = stChunkLine, true
	case s.sawCL && s.length > 0:
		s.state = stBody
	case s.sawCL && s.length < 0:
		s.state = stPass // net/http refuses the head itself
	default:
		s.next()
	}
}

// next starts the head of the next request on the connection.
func (s *h1Scanner) next() {
	*s = h1Scanner{lineStart: true, line: s.line[:0], reject: s.reject}
}

func decimal(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// chunkSize parses a chunk-size line (extensions and trailing whitespace
// ignored), as net/http's chunked reader does.
func chunkSize(line []byte) (int64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, " \t")
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range line {
		switch {
		case '0' <= c && c <= '9':
			n = n<<4 | int64(c-'0')
		case 'a' <= c && c <= 'f':
			n = n<<4 | int64(c-'a'+10)
		case 'A' <= c && c <= 'F':
			n = n<<4 | int64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}
