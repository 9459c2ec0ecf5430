package jose

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
)

// Header holds the protected header members Gatehouse reads. Members are
// matched by exact name (a map decode, not encoding/json's case-insensitive
// struct matching), so {"alg":…,"ALG":…} cannot be read two ways.
type Header struct {
	Alg, Kid, Typ string
	// Crit and B64 report that a "crit" or "b64" member is present,
	// whatever its value: no extension is understood, so either refuses.
	Crit, B64 bool

	members map[string]json.RawMessage
}

// Member returns the raw JSON of a header member the fields above do not
// cover (e.g. a DPoP proof's "jwk"). Keys named by a token are never used
// to verify it; a caller that reads one must know why it may.
func (h *Header) Member(name string) (json.RawMessage, bool) {
	v, ok := h.members[name]
	return v, ok
}

// ErrNotJOSE reports a first part that is not a base64url JSON object with
// an "alg" member: the token is not a JWT (it may be someone else's).
var ErrNotJOSE = errors.New("header is not a JOSE header")

// DecodeHeader decodes a JOSE header. It returns ErrNotJOSE when seg is not
// a base64url JSON object with an "alg" member (whatever its type), and an
// *Error (Malformed) when alg, kid or typ is not a string or the JSON has a
// duplicate member, invalid UTF-8 or a lone surrogate (CheckJSON).
func DecodeHeader(seg []byte) (Header, error) {
	raw, err := DecodeSegment(seg)
	if err != nil {
		return Header{}, ErrNotJOSE
	}
	if !json.Valid(raw) {
		return Header{}, ErrNotJOSE
	}
	m, ok := decodeMembers(raw)
	if !ok {
		return Header{}, ErrNotJOSE
	}
	if _, ok := m["alg"]; !ok {
		return Header{}, ErrNotJOSE
	}
	if err := CheckJSON(raw); err != nil {
		return Header{}, strictError("header", err)
	}
	h := Header{members: m}
	if !memberString(m, "alg", &h.Alg) || !memberString(m, "kid", &h.Kid) || !memberString(m, "typ", &h.Typ) {
		return Header{}, errHeaderMember
	}
	_, h.Crit = m["crit"]
	_, h.B64 = m["b64"]
	return h, nil
}

// NormalizeTyp lowercases a typ and drops an "application/" prefix (RFC 7515
// §4.1.9), so "JWT", "application/jwt" and "jwt" compare equal.
func NormalizeTyp(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}

// AccessTokenType reports whether a typ (absent, "JWT" or "at+jwt", RFC
// 9068, in any case or with "application/") may be an access token when no
// allow-list is configured. Explicit typing (RFC 8725 §3.11) marks other
// JWTs — a DPoP proof (dpop+jwt), a logout token (logout+jwt), a security
// event (secevent+jwt), an ID token (id_token+jwt) — and such a token must
// never pass for an access token, even when signed by the right issuer.
func AccessTokenType(typ string) bool {
	switch NormalizeTyp(typ) {
	case "", "jwt", "at+jwt":
		return true
	}
	return false
}

// Policy is what a verifier accepts in a protected header. The zero value
// accepts no algorithm.
type Policy struct {
	// Algorithms is the allow-list; "none" must never be in it.
	Algorithms []string
	// Typ, when set, is the only typ accepted (compared normalized); a
	// token without typ is refused. Empty: typ is left to the caller.
	Typ string
	// TypDetail is the Error detail when Typ does not match ("typ header is
	// not allowed" when empty).
	TypDetail string
}

// Check applies the header rules in a fixed order, so every verifier
// rejects the same token for the same reason: alg present, alg allowed,
// no crit, no b64, then typ.
func (p *Policy) Check(h *Header) error {
	switch {
	case h.Alg == "":
		return errNoAlg
	case !slices.Contains(p.Algorithms, h.Alg):
		return errAlgNotAllowed
	case h.Crit:
		return errCrit
	case h.B64:
		return errB64
	case p.Typ != "" && NormalizeTyp(h.Typ) != p.Typ:
		if p.TypDetail != "" {
			return &Error{Failure: WrongType, Detail: p.TypDetail}
		}
		return errTyp
	}
	return nil
}

// Token is a split JWS whose header passed a Policy and whose payload
// decoded to a JSON object. Its signature is not verified yet: nothing in
// it may be trusted until Verify returns nil.
type Token struct {
	Parts
	Header Header
	Claims map[string]any
}

// ErrNotJWS reports a token that does not have the shape of a JWS compact
// serialization (see Split); a JWE is an *Error (Unsupported) instead.
var ErrNotJWS = errors.New("not a JWS compact serialization")

// Parse splits token, decodes its header and checks it against p, then
// decodes its claims. It returns ErrNotJWS or ErrNotJOSE for a token that
// is not a JWT at all (callers decide whether that is "not mine"), and
// *Error for a JWT that p refuses. token is only read, and the Token's
// Parts alias it.
func (p *Policy) Parse(token []byte) (Token, error) {
	parts, kind := Split(token)
	switch kind {
	case JWE:
		return Token{}, errJWE
	case NotJWS:
		return Token{}, ErrNotJWS
	}
	hdr, err := DecodeHeader(parts.Header)
	if err != nil {
		return Token{}, err
	}
	if err := p.Check(&hdr); err != nil {
		return Token{}, err
	}
	claims, err := DecodeClaims(parts.Payload)
	if err != nil {
		return Token{}, err
	}
	return Token{Parts: parts, Header: hdr, Claims: claims}, nil
}

// Verify checks the token's signature with pub under alg, both chosen by
// the caller from configuration; see VerifySignature.
func (t *Token) Verify(pub any, alg string) error { return VerifySignature(t.Parts, pub, alg) }
