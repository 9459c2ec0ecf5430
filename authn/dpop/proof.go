// Package dpop verifies DPoP proofs (RFC 9449) at a resource server: the
// JWT a client signs with its own key for each request, which binds an
// access token to that key (the token's cnf.jkt) and the proof to one
// request (htm, htu, iat, jti, ath).
//
// It reads the proof with authn/jose, the gateway's one JOSE core, under a
// policy of its own: typ dpop+jwt, asymmetric algorithms only. The key that
// verifies the proof is the one the proof embeds (its header's jwk); that
// is what a proof is, and the only place Gatehouse takes a key from a token.
// What makes it safe is that the key is then compared with the thumbprint
// the access token's issuer signed (cnf.jkt): a proof verified by its own
// key proves nothing until that comparison holds (the caller's job, see
// Verifier.Verify).
//
// A proof is single-use: Verifier.Verify records its jti in a Replay cache
// for as long as its iat keeps it acceptable, in memory or in Redis so that
// replicas share it. Nothing here caches a verified proof.
package dpop

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse/gatehouse/authn/jose"
)

// DefaultAlgorithms are the proof algorithms accepted unless configured:
// every asymmetric JWS algorithm the gateway verifies.
var DefaultAlgorithms = jose.AsymmetricAlgorithms

// MaxProofSize bounds a DPoP header value in bytes: a proof with a
// 4096-bit RSA key is under 2 KB.
const MaxProofSize = 8 << 10

// maxJTI bounds the jti claim: a replay-cache key is its hash, but a
// client has no reason to send more.
const maxJTI = 256

// Proof is a DPoP proof whose signature verified with its embedded key.
// Its claims are the client's statements; Verifier.Verify checks them
// against the request.
type Proof struct {
	Alg string
	// JKT is the RFC 7638 SHA-256 thumbprint of the proof's key, base64url:
	// what an access token's cnf.jkt names.
	JKT   string
	JTI   string
	HTM   string
	HTU   string
	IAT   time.Time
	ATH   string // empty when absent
	Nonce string // empty when absent
}

// Error is a proof the resource server refuses. Code is the RFC 9449
// error code of the challenge: invalid_dpop_proof, or use_dpop_nonce when
// the proof lacks a valid server nonce. Detail never quotes the proof.
type Error struct {
	Code   string
	Detail string
}

func (e *Error) Error() string { return "dpop: " + e.Code + ": " + e.Detail }

// The RFC 9449 error codes.
const (
	CodeInvalidProof = "invalid_dpop_proof"
	CodeUseNonce     = "use_dpop_nonce"
)

func invalid(detail string) *Error { return &Error{Code: CodeInvalidProof, Detail: detail} }

// ErrReplayed is the Error of a proof whose jti was seen before.
var ErrReplayed = invalid("proof was already used (jti replay)")

// privateMembers are JWK members that only private (or symmetric) keys
// have (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// Parse reads a DPoP proof: a JWS whose header has typ dpop+jwt, an alg
// from algs and a public jwk whose type and size allow alg, whose signature
// verifies with that jwk, and whose claims have jti, htm, htu and iat of
// the right types (ath and nonce are strings when present). It checks
// nothing about the request; see Verifier.Verify.
func Parse(proof string, algs []string) (*Proof, error) {
	if len(proof) == 0 {
		return nil, invalid("empty proof")
	}
	if len(proof) > MaxProofSize {
		return nil, invalid("proof too long")
	}
	pol := jose.Policy{Algorithms: algs, Typ: "dpop+jwt", TypDetail: "typ is not dpop+jwt"}
	tok, err := pol.Parse([]byte(proof))
	if err != nil {
		var je *jose.Error
		if errors.As(err, &je) {
			return nil, invalid(je.Detail)
		}
		return nil, invalid("not a JWS compact serialization")
	}
	rawKey, ok := tok.Header.Member("jwk")
	if !ok {
		return nil, invalid("header has no jwk")
	}
	pub, key, err := publicKey(rawKey)
	if err != nil {
		return nil, err
	}
	allowed, err := jose.KeyAlgorithms(pub)
	if err != nil {
		return nil, invalid("jwk: " + err.Error())
	}
	if !slices.Contains(allowed, tok.Header.Alg) {
		return nil, invalid("jwk does not allow the proof's algorithm")
	}
	if err := tok.Verify(pub, tok.Header.Alg); err != nil {
		return nil, invalid("signature does not verify with the proof's jwk")
	}
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, invalid("jwk thumbprint")
	}
	p := &Proof{Alg: tok.Header.Alg, JKT: base64.RawURLEncoding.EncodeToString(tp)}
	if err := p.claims(tok.Claims); err != nil {
		return nil, err
	}
	return p, nil
}

// publicKey reads the header's jwk: a JSON object of an asymmetric key type
// with no private member, as a crypto public key and its jwx form.
func publicKey(raw json.RawMessage) (crypto.PublicKey, jwk.Key, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return nil, nil, invalid("jwk is not a JSON object")
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return nil, nil, invalid("jwk holds private or symmetric key material")
		}
	}
	var kty string
	if err := json.Unmarshal(members["kty"], &kty); err != nil {
		return nil, nil, invalid("jwk has no kty")
	}
	switch kty {
	case "EC", "RSA", "OKP":
	default:
		return nil, nil, invalid("jwk is not an asymmetric key (kty EC, RSA or OKP)")
	}
	key, err := jwk.ParseKey(raw)
	if err != nil {
		return nil, nil, invalid("jwk does not parse")
	}
	if priv, err := jwk.IsPrivateKey(key); err != nil || priv {
		return nil, nil, invalid("jwk holds private or symmetric key material")
	}
	var pub any
	if err := key.Raw(&pub); err != nil {
		return nil, nil, invalid("jwk is not a usable public key")
	}
	return pub, key, nil
}

func (p *Proof) claims(c map[string]any) error {
	var ok bool
	if p.JTI, ok = c["jti"].(string); !ok || p.JTI == "" || len(p.JTI) > maxJTI {
		return invalid("jti must be a non-empty string of at most 256 bytes")
	}
	if p.HTM, ok = c["htm"].(string); !ok || p.HTM == "" {
		return invalid("htm must be a non-empty string")
	}
	if p.HTU, ok = c["htu"].(string); !ok || p.HTU == "" {
		return invalid("htu must be a non-empty string")
	}
	n, ok := c["iat"].(json.Number)
	if !ok {
		return invalid("iat must be a number")
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1<<53 {
		return invalid("iat is not a valid NumericDate")
	}
	sec, frac := math.Modf(f)
	p.IAT = time.Unix(int64(sec), int64(frac*1e9))
	for _, m := range [...]struct {
		name string
		dst  *string
	}{{"ath", &p.ATH}, {"nonce", &p.Nonce}} {
		if v, present := c[m.name]; present {
			if *m.dst, ok = v.(string); !ok || *m.dst == "" {
				return invalid(m.name + " must be a non-empty string")
			}
		}
	}
	return nil
}
