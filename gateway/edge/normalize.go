package edge

import (
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"
)

// One path, one decision. The request path is normalized exactly once, before
// routing and policy; the operation is matched on that path, the policy sees
// that path, and that path (re-encoded) is what the upstream receives. Every
// form whose meaning depends on who decodes it is refused with 400 instead of
// being guessed at. The rules, in order (README, "Path normalization"):
//
//  1. The path must be absolute (origin-form, or the path of an absolute-form
//     target whose host is this connection's server name). "*" and opaque
//     targets are refused.
//  2. Percent-escapes must be two hex digits. These are refused wherever they
//     appear: an encoded "/" (%2F), "\" (%5C) or NUL (%00); an encoded "%"
//     that starts another escape (%252F: double encoding); a raw backslash;
//     control characters raw or encoded (C0 and DEL).
//  3. Every other escape is decoded (RFC 3986 §6.2.2.2 for unreserved
//     characters, and beyond: the gateway routes on the decoded path). The
//     decoded path must be valid UTF-8.
//  4. Empty segments ("//") are refused, except a trailing slash, which is
//     kept and routes only where the OpenAPI path has one.
//  5. Dot segments are removed (RFC 3986 §5.2.4; "%2e" is a dot): "." drops
//     itself, ".." drops the segment before it. A ".." above the root, or one
//     that drops a segment of the matched API's base path, is refused.
//     Segments that some servers read as dot segments are refused: "..;x",
//     ".;x" (Tomcat path parameters), "...", ". " and ".. " (trailing dots and
//     spaces, Windows).
//  6. Nothing else changes: case, ";params" and trailing dots inside a name
//     are data. They route to exactly the operation whose template matches
//     them byte for byte, or to none (404).
//
// NormalizePath applies rules 1-5 to an escaped path (the request's
// URL.EscapedPath). depth is the lowest segment depth a ".." left the path
// at (len of segments when none did), for the base-path check.
func NormalizePath(escaped string) (path string, depth int, err error) {
	if escaped == "" || escaped[0] != '/' {
		return "", 0, errPathNotAbsolute
	}
	// Fast path: already normal (no escapes, dots, doubled slashes or
	// forbidden bytes), which is nearly every request.
	if clean(escaped) {
		return escaped, 1 << 30, nil
	}
	decoded, err := decodePath(escaped)
	if err != nil {
		return "", 0, err
	}
	segs := strings.Split(decoded[1:], "/")
	out := make([]string, 0, len(segs))
	depth = 1 << 30
	trailing := false
	for i, s := range segs {
		last := i == len(segs)-1
		switch {
		case s == "":
			if !last {
				return "", 0, errEmptySegment
			}
			trailing = true
		case s == ".":
			trailing = last
		case s == "..":
			if len(out) == 0 {
				return "", 0, ErrTraversal
			}
			out = out[:len(out)-1]
			depth = min(depth, len(out))
			trailing = last
		case dotLike(s):
			return "", 0, errAmbiguousDot
		default:
			out = append(out, s)
		}
	}
	var b strings.Builder
	b.Grow(len(decoded))
	for _, s := range out {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if trailing || len(out) == 0 {
		b.WriteByte('/')
	}
	return b.String(), depth, nil
}

// Path rejections: each is a 400 with its own audit reason.
var (
	errPathNotAbsolute = &pathError{"path_not_absolute"}
	errBadEscape       = &pathError{"bad_escape"}
	errEncodedSep      = &pathError{"encoded_separator"}
	errDoubleEncoding  = &pathError{"double_encoding"}
	errBackslash       = &pathError{"backslash"}
	errControl         = &pathError{"control_character"}
	errInvalidUTF8     = &pathError{"invalid_utf8"}
	errEmptySegment    = &pathError{"empty_segment"}
	// ErrTraversal: a ".." left the path above its API's base path.
	ErrTraversal    = &pathError{"path_traversal"}
	errAmbiguousDot = &pathError{"ambiguous_dot_segment"}
	errAbsoluteForm = &pathError{"absolute_form_host"}
)

// pathError is a refused request target; reason is its audit reason.
type pathError struct{ reason string }

func (e *pathError) Error() string { return "request path refused: " + e.reason }

// PathReason returns the audit reason of a normalization error.
func PathReason(err error) string {
	var pe *pathError
	if errors.As(err, &pe) {
		return pe.reason
	}
	return "bad_path"
}

// clean reports whether an escaped path needs no work: no escapes, no dot
// that could start a dot segment, no empty segment, no forbidden byte.
func clean(p string) bool {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '%', c == '\\', c < 0x20, c == 0x7f, c >= 0x80:
			return false
		case c == '/':
			if i+1 < len(p) && (p[i+1] == '/' || p[i+1] == '.') {
				return false
			}
		}
	}
	return true
}

// decodePath percent-decodes an escaped path under rule 2 and 3.
func decodePath(p string) (string, error) {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%':
			if i+2 >= len(p) || !ishex(p[i+1]) || !ishex(p[i+2]) {
				return "", errBadEscape
			}
			d := unhex(p[i+1])<<4 | unhex(p[i+2])
			switch {
			case d == '/' || d == '\\' || d == 0:
				return "", errEncodedSep
			case d < 0x20 || d == 0x7f:
				return "", errControl
			case d == '%' && i+4 < len(p) && ishex(p[i+3]) && ishex(p[i+4]):
				return "", errDoubleEncoding
			}
			b.WriteByte(d)
			i += 2
		case c == '\\':
			return "", errBackslash
		case c < 0x20 || c == 0x7f:
			return "", errControl
		default:
			b.WriteByte(c)
		}
	}
	s := b.String()
	if !utf8.ValidString(s) {
		return "", errInvalidUTF8
	}
	return s, nil
}

// dotLike reports segments that are not "." or ".." here but are read as
// one by some server: a dot segment with path parameters ("..;x"), or only
// dots, spaces and tabs ("...", ". ", ".. ").
func dotLike(s string) bool {
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
		if s == "." || s == ".." {
			return true
		}
	}
	if s == "" || s[0] != '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '.' && s[i] != ' ' && s[i] != '\t' {
			return false
		}
	}
	return true
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// RequestPath normalizes the path of a server request. An absolute-form
// target (RFC 9112 §3.2.2) is accepted only for this connection's own server
// name: net/http lets its authority replace the Host header, and the
// gateway is not a forward proxy.
func RequestPath(r *http.Request) (string, int, error) {
	if r.URL.Opaque != "" {
		return "", 0, errPathNotAbsolute
	}
	if r.URL.Host != "" && r.RequestURI != "" && r.RequestURI[0] != '/' {
		if r.TLS == nil || !sameHost(r.URL.Host, r.TLS.ServerName) {
			return "", 0, errAbsoluteForm
		}
	}
	return NormalizePath(r.URL.EscapedPath())
}

// sameHost compares an authority (host[:port]) with a server name.
func sameHost(authority, name string) bool {
	host := authority
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	return name != "" && strings.EqualFold(host, name)
}

// BaseDepth is the number of segments of a base path ("" → 0).
func BaseDepth(base string) int { return strings.Count(base, "/") }
