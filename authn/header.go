package authn

import (
	"errors"
	"net/http"
	"strings"
)

// ErrMalformedAuthorization is returned by ParseAuthorization for a header
// value that is not `auth-scheme [ 1*SP credentials ]` (RFC 9110 §11.4,
// formerly RFC 7235 §2.1).
var ErrMalformedAuthorization = errors.New("authn: malformed Authorization header")

// ParseAuthorization splits an Authorization header value into its scheme
// token and the credentials that follow it.
//
// The scheme is returned even when err is non-nil: it is the leading run of
// token characters (RFC 9110 tchar). A caller first asks "is this my scheme?"
// (strings.EqualFold(scheme, "Bearer")) and only then looks at err; a header
// for another scheme is "not presented" for it, whatever its shape.
//
// The value is well formed when, after trimming optional whitespace at both
// ends (net/http already does), it is a non-empty scheme token, optionally
// followed by one or more SP and credentials made of visible ASCII and SP.
// Control characters (including HTAB, CR, LF, NUL and DEL) and non-ASCII bytes
// anywhere in the value make it malformed. The credentials are returned
// verbatim (not validated as token68: see IsToken68) and may be empty.
func ParseAuthorization(v string) (scheme, credentials string, err error) {
	v = strings.Trim(v, " \t")
	i := 0
	for i < len(v) && isTchar(v[i]) {
		i++
	}
	scheme = v[:i]
	if i == 0 {
		return "", "", ErrMalformedAuthorization
	}
	if i == len(v) {
		return scheme, "", nil
	}
	if v[i] != ' ' {
		return scheme, "", ErrMalformedAuthorization
	}
	for i < len(v) && v[i] == ' ' {
		i++
	}
	credentials = v[i:]
	for j := 0; j < len(credentials); j++ {
		if !charClass[credentials[j]].has(classVisibleOrSP) {
			return scheme, "", ErrMalformedAuthorization
		}
	}
	return scheme, credentials, nil
}

// IsToken68 reports whether s is an RFC 9110 token68:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
// Basic credentials and bearer tokens are token68.
func IsToken68(s string) bool {
	i := 0
	for i < len(s) && isToken68Char(s[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}

func isToken68Char(c byte) bool { return charClass[c].has(classToken68) }

// isTchar reports whether c is an RFC 9110 tchar.
func isTchar(c byte) bool { return charClass[c].has(classTchar) }

// isBase64URLChar reports whether c is in the base64url alphabet (RFC 4648
// §5), without padding.
func isBase64URLChar(c byte) bool { return charClass[c].has(classBase64URL) }

// Character classes, one table lookup per byte on the hot path (a bearer
// token is scanned several times before any decoding).
type charClassBits uint8

const (
	classTchar charClassBits = 1 << iota
	classToken68
	classBase64URL
	classVisibleOrSP // VCHAR or SP: %x20-7E
)

func (b charClassBits) has(c charClassBits) bool { return b&c != 0 }

var charClass = func() (t [256]charClassBits) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] |= classVisibleOrSP
	}
	alnum := func(c int) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' }
	for c := range 256 {
		if alnum(c) {
			t[c] |= classTchar | classToken68 | classBase64URL
		}
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] |= classTchar
	}
	for _, c := range "-._~+/" {
		t[c] |= classToken68
	}
	t['-'] |= classBase64URL
	t['_'] |= classBase64URL
	return t
}()

// authorizationFor returns the credentials of the request's Authorization
// header when it names wantScheme (case-insensitively).
//
//   - no Authorization header, or one for another scheme: ErrNoCredentials;
//   - more than one Authorization header field: Rejection ambiguous_credentials
//     (whatever their schemes: a request must not be read two ways);
//   - longer than maxLen bytes, not well formed, or credentials that are
//     not a token68: Rejection malformed.
//
// The length is checked after the scheme (a cheap prefix test) and before
// anything else looks at the value.
func authorizationFor(r *http.Request, ownScheme, wantScheme string, maxLen int) (string, error) {
	vals := r.Header.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", ErrNoCredentials
	case 1:
	default:
		return "", Reject(ownScheme, ReasonAmbiguousCredentials, "more than one Authorization header", nil)
	}
	v := vals[0]
	if !hasSchemePrefix(v, wantScheme) {
		return "", ErrNoCredentials
	}
	if maxLen > 0 && len(v) > maxLen {
		return "", Reject(ownScheme, ReasonMalformed, "Authorization header too long", nil)
	}
	scheme, cred, err := ParseAuthorization(v)
	if !strings.EqualFold(scheme, wantScheme) {
		return "", ErrNoCredentials
	}
	if err != nil {
		return "", Reject(ownScheme, ReasonMalformed, "malformed Authorization header", nil)
	}
	if !IsToken68(cred) {
		return "", Reject(ownScheme, ReasonMalformed, "credentials are not a token68", nil)
	}
	return cred, nil
}

// hasSchemePrefix is a cheap pre-check: v (after leading OWS) starts with
// scheme, case-insensitively, followed by the end or a non-token character.
func hasSchemePrefix(v, scheme string) bool {
	v = strings.TrimLeft(v, " \t")
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return false
	}
	return len(v) == len(scheme) || !isTchar(v[len(scheme)])
}
