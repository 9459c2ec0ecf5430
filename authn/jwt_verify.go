package authn

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// tokenKind classifies a bearer token by its shape alone.
type tokenKind int

const (
	kindNotJWS tokenKind = iota // anything else: not a JWT (opaque, or not a token68 at all)
	kindJWS                     // two dots, three base64url parts, non-empty header and payload
	kindJWE                     // five base64url parts: encrypted, not supported
)

// jwtParts is a JWS compact serialization split into its parts. All fields
// are sub-slices of the token: splitting copies nothing.
type jwtParts struct {
	header, payload, signature []byte
	signingInput               []byte // header "." payload
}

// splitJWT classifies token by shape and, for a JWS, splits it. A JWS has
// exactly two dots, a non-empty header and payload, and only base64url
// characters (no padding) in every part; the signature may be empty (the
// "none" algorithm, rejected later by the algorithm check). Whether a
// kindJWS token is a JWT at all is only known once its header decodes to a
// JSON object with "alg" (see decodeHeader): "ya29.a0Af…" style tokens have
// dots too.
func splitJWT(token []byte) (jwtParts, tokenKind) {
	switch bytes.Count(token, []byte{'.'}) {
	case 2:
	case 4:
		if allBase64URLOrDot(token) {
			return jwtParts{}, kindJWE
		}
		return jwtParts{}, kindNotJWS
	default:
		return jwtParts{}, kindNotJWS
	}
	i := bytes.IndexByte(token, '.')
	j := i + 1 + bytes.IndexByte(token[i+1:], '.')
	p := jwtParts{
		header:       token[:i],
		payload:      token[i+1 : j],
		signature:    token[j+1:],
		signingInput: token[:j],
	}
	if len(p.header) == 0 || len(p.payload) == 0 || !allBase64URLOrDot(token) {
		return jwtParts{}, kindNotJWS
	}
	return p, kindJWS
}

func allBase64URLOrDot(b []byte) bool {
	for _, c := range b {
		if !isBase64URLChar(c) && c != '.' {
			return false
		}
	}
	return true
}

var b64Enc = base64.RawURLEncoding.Strict()

func decodeB64(src []byte) ([]byte, error) {
	dst := make([]byte, b64Enc.DecodedLen(len(src)))
	n, err := b64Enc.Decode(dst, src)
	if err != nil {
		return nil, err
	}
	return dst[:n], nil
}

// jwsHeader holds the protected header members Gatehouse reads. Members are
// matched by exact name (a map decode, not encoding/json's case-insensitive
// struct matching), so {"alg":…,"ALG":…} cannot be read two ways.
// jku, x5u, jwk and x5c are deliberately ignored: keys come from the issuer's
// configuration only, never from the token.
type jwsHeader struct {
	alg, kid, typ string
	crit          bool // a "crit" member is present
	b64           bool // a "b64" member is present (RFC 7797)
}

var (
	// errNotJOSE: the first part is not a base64url JSON object with an
	// "alg" member, so the token is not a JWT (it is someone else's).
	errNotJOSE      = errors.New("header is not a JOSE header")
	errHeaderMember = errors.New("header member has the wrong type")
	errClaimsJSON   = errors.New("claims are not a JSON object")
)

// decodeHeader decodes a JOSE header. It returns errNotJOSE when seg is not
// a base64url JSON object with an "alg" member (whatever its type), and
// errHeaderMember when alg, kid or typ is not a string.
func decodeHeader(seg []byte) (jwsHeader, error) {
	raw, err := decodeB64(seg)
	if err != nil {
		return jwsHeader{}, errNotJOSE
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return jwsHeader{}, errNotJOSE
	}
	if _, ok := m["alg"]; !ok {
		return jwsHeader{}, errNotJOSE
	}
	var h jwsHeader
	if !headerString(m, "alg", &h.alg) || !headerString(m, "kid", &h.kid) || !headerString(m, "typ", &h.typ) {
		return jwsHeader{}, errHeaderMember
	}
	_, h.crit = m["crit"]
	_, h.b64 = m["b64"]
	return h, nil
}

func headerString(m map[string]json.RawMessage, name string, dst *string) bool {
	v, ok := m[name]
	return !ok || json.Unmarshal(v, dst) == nil
}

// decodeClaims decodes the payload: one JSON object, numbers kept as
// json.Number, member names exact, nothing after the object.
func decodeClaims(seg []byte) (map[string]any, error) {
	raw, err := decodeB64(seg)
	if err != nil {
		return nil, errClaimsJSON
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errClaimsJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errClaimsJSON
	}
	return m, nil
}

// verifySignature checks sig over p.signingInput with key under alg. alg has
// already been checked against the issuer's allow-list and the key's own
// algorithms; the token's header plays no part here.
func verifySignature(p jwtParts, key *VerificationKey, alg string) error {
	sig, err := decodeB64(p.signature)
	if err != nil || len(sig) == 0 {
		return errors.New("signature is not base64url")
	}
	v, ok := verifiers[alg]
	if !ok {
		return errors.New("algorithm has no verifier")
	}
	if err := v.Verify(p.signingInput, sig, key.Public); err != nil {
		return errors.New("signature does not verify")
	}
	return nil
}

// verifiers holds one jwx verifier per algorithm, built once: the verifier
// only checks bytes with the key it is handed, so nothing in the token can
// pick a key or an algorithm.
var verifiers = func() map[string]jws.Verifier {
	m := map[string]jws.Verifier{}
	for _, alg := range append(append([]string{}, DefaultAlgorithms...), hmacAlgorithms...) {
		v, err := jws.NewVerifier(jwa.SignatureAlgorithm(alg))
		if err != nil {
			panic("authn: no jwx verifier for " + alg + ": " + err.Error())
		}
		m[alg] = v
	}
	// RFC 9864's fully-specified name for EdDSA over Ed25519.
	m["Ed25519"] = m["EdDSA"]
	return m
}()
