// Package jose is Gatehouse's one implementation of the JWS compact
// serialization (RFC 7515) as JWTs use it: splitting a token, decoding and
// checking its protected header, decoding its claims, verifying a signature
// with a key and algorithm the caller chose from configuration, and signing.
//
// Every token the gateway reads (bearer JWTs, API keys) and every token it
// writes (API keys, the internal key manager's access tokens, the identity
// assertion for upstreams) goes through this package, so the rules of
// RFC 8725 are written once:
//
//   - the algorithm comes from an allow-list, never from the token alone, and
//     "none" is never in one (Policy);
//   - an unknown `crit` extension rejects, `b64` (RFC 7797) rejects;
//   - `jku`, `x5u`, `jwk` and `x5c` are never used to find a key: the caller
//     passes the key, picked from its own configuration;
//   - header and claims members are matched by exact name, so a JSON object
//     cannot be read one way here and another way elsewhere.
//
// It knows nothing of issuers, schemes or rejection reasons: failures are
// *Error values with a Failure kind that callers map to their vocabulary
// (authn maps them to Rejection reasons). A future verifier of DPoP proofs
// (RFC 9449: typ dpop+jwt, key from the header's jwk) and stricter claim
// parsing belong here, beside Policy and DecodeClaims.
package jose

import (
	"bytes"
	"encoding/base64"
)

// Kind classifies a token by its shape alone.
type Kind int

const (
	// NotJWS is anything else: an opaque token, or not a token at all.
	NotJWS Kind = iota
	// JWS has two dots, three base64url parts, a non-empty header and payload.
	JWS
	// JWE has five base64url parts: encrypted, not supported.
	JWE
)

// Parts is a JWS compact serialization split into its parts. All fields are
// sub-slices of the token: splitting copies nothing.
type Parts struct {
	Header, Payload, Signature []byte
	// SigningInput is Header "." Payload, what the signature covers.
	SigningInput []byte
}

// Split classifies token by shape and, for a JWS, splits it. A JWS has
// exactly two dots, a non-empty header and payload, and only base64url
// characters (no padding) in every part; the signature may be empty (the
// "none" algorithm, refused later by every Policy). Whether a JWS-shaped
// token is a JWT at all is only known once its header decodes to a JSON
// object with "alg" (see DecodeHeader): "ya29.a0Af…" style tokens have
// dots too. Split only reads token.
func Split(token []byte) (Parts, Kind) {
	switch bytes.Count(token, []byte{'.'}) {
	case 2:
	case 4:
		if allBase64URLOrDot(token) {
			return Parts{}, JWE
		}
		return Parts{}, NotJWS
	default:
		return Parts{}, NotJWS
	}
	i := bytes.IndexByte(token, '.')
	j := i + 1 + bytes.IndexByte(token[i+1:], '.')
	p := Parts{
		Header:       token[:i],
		Payload:      token[i+1 : j],
		Signature:    token[j+1:],
		SigningInput: token[:j],
	}
	if len(p.Header) == 0 || len(p.Payload) == 0 || !allBase64URLOrDot(token) {
		return Parts{}, NotJWS
	}
	return p, JWS
}

// IsBase64URLChar reports whether c is in the base64url alphabet (RFC 4648
// §5), without padding.
func IsBase64URLChar(c byte) bool { return b64Chars[c] == 1 }

// b64Chars marks the base64url alphabet 1 and '.' 2: one table lookup per
// byte, as a token is scanned whole before anything is decoded.
var b64Chars = func() (t [256]uint8) {
	for _, r := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[r] = 1
	}
	t['.'] = 2
	return t
}()

func allBase64URLOrDot(b []byte) bool {
	for _, c := range b {
		if b64Chars[c] == 0 {
			return false
		}
	}
	return true
}

// b64 is strict: no padding, no stray bits in the last character, so one
// token has exactly one encoding.
var b64 = base64.RawURLEncoding.Strict()

// DecodeSegment decodes one base64url part of a token into a new slice.
func DecodeSegment(src []byte) ([]byte, error) {
	dst := make([]byte, b64.DecodedLen(len(src)))
	n, err := b64.Decode(dst, src)
	if err != nil {
		return nil, err
	}
	return dst[:n], nil
}

// EncodeSegment is the base64url encoding of a token part.
func EncodeSegment(src []byte) string { return b64.EncodeToString(src) }
