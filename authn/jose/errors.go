package jose

import "errors"

// Failure is the kind of a token's defect, for callers to map to their own
// vocabulary (authn.Reason).
type Failure int

const (
	// Malformed: base64, JSON, a member of the wrong type, no alg, b64.
	Malformed Failure = iota + 1
	// Unsupported: a JWE, or a crit extension.
	Unsupported
	// AlgorithmNotAllowed: alg is not in the Policy's allow-list.
	AlgorithmNotAllowed
	// BadSignature: the signature does not verify with the given key.
	BadSignature
	// WrongType: typ is not the one the Policy requires.
	WrongType
)

// Error is a token that breaks a JOSE rule. Detail never quotes the token:
// it is safe for logs and rejection details.
type Error struct {
	Failure Failure
	Detail  string
}

func (e *Error) Error() string { return e.Detail }

// The fixed failures are values, so rejecting allocates nothing here.
var (
	errJWE           = &Error{Unsupported, "encrypted tokens (JWE) are not supported"}
	errHeaderMember  = &Error{Malformed, "header member has the wrong type"}
	errNoAlg         = &Error{Malformed, "header has no alg"}
	errAlgNotAllowed = &Error{AlgorithmNotAllowed, "algorithm not allowed"}
	errCrit          = &Error{Unsupported, "crit header: no extension is supported"}
	errB64           = &Error{Malformed, "b64 header is not allowed in a JWT"}
	errTyp           = &Error{WrongType, "typ header is not allowed"}
	errClaims        = &Error{Malformed, "claims are not a JSON object"}
	errHeaderDup     = &Error{Malformed, "header has a duplicate member"}
	errHeaderUTF8    = &Error{Malformed, "header is not valid UTF-8"}
	errClaimsDup     = &Error{Malformed, "claims have a duplicate member"}
	errClaimsUTF8    = &Error{Malformed, "claims are not valid UTF-8"}
	errSigEncoding   = &Error{BadSignature, "signature is not base64url"}
	errNoVerifier    = &Error{BadSignature, "algorithm has no verifier"}
	errSignature     = &Error{BadSignature, "signature does not verify"}
)

// strictError maps a CheckJSON failure of a header or claims to its Error.
func strictError(part string, err error) *Error {
	dup, utf := errors.Is(err, ErrDuplicateMember), errors.Is(err, ErrInvalidUTF8)
	switch {
	case part == "header" && dup:
		return errHeaderDup
	case part == "header" && utf:
		return errHeaderUTF8
	case part == "header":
		return errHeaderMember
	case dup:
		return errClaimsDup
	case utf:
		return errClaimsUTF8
	}
	return errClaims
}
