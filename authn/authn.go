// Package authn holds the authenticator contract shared by every credential
// scheme the gateway verifies, and the normalized identity document that each
// verified credential becomes.
//
// An Authenticator has exactly three non-failure outcomes, and the gateway relies
// on telling them apart:
//
//   - (*Identity, nil): the credential was presented and verified;
//   - (nil, ErrNoCredentials): the credential this scheme reads was not presented;
//   - (nil, *Rejection): it was presented and is invalid, for one reason of a
//     closed set (so policies and status mapping never parse error strings).
//
// Any other error is a technical failure (a key set or key manager that cannot be
// reached, a store that is down); the gateway fails closed with 503 and never lets
// such a request fall through to another scheme.
//
// Test the outcomes with errors.Is(err, ErrNoCredentials) and AsRejection, never
// with ==: "not presented" may come wrapped. ErrNotJWT (a bearer token that is
// not a JWS compact serialization, i.e. an opaque token) is such a case: it is ErrNoCredentials to
// every caller, and callers that route opaque tokens to key managers test
// errors.Is(err, ErrNotJWT) first.
package authn

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrNoCredentials reports that the request does not carry the credential a
// scheme reads. It is not a failure: another alternative may still be satisfied.
var ErrNoCredentials = errors.New("authn: no credentials presented")

// Reason is the closed set of reasons a presented credential is rejected for.
// Policies see these strings; keep them stable.
type Reason string

// The reasons, a closed set (docs/architecture.md). Adding one is a contract change: update
// schemas/input.schema.json and the policy too.
const (
	ReasonMalformed             Reason = "malformed"
	ReasonInvalidSignature      Reason = "invalid_signature"
	ReasonExpired               Reason = "expired"
	ReasonNotYetValid           Reason = "not_yet_valid"
	ReasonUnknownIssuer         Reason = "unknown_issuer"
	ReasonUnknownKey            Reason = "unknown_key"
	ReasonAudienceMismatch      Reason = "audience_mismatch"
	ReasonInactiveToken         Reason = "inactive_token"
	ReasonUntrustedCertificate  Reason = "untrusted_certificate"
	ReasonInvalidCredentials    Reason = "invalid_credentials"
	ReasonRevoked               Reason = "revoked"
	ReasonAmbiguousCredentials  Reason = "ambiguous_credentials"
	ReasonUnsupportedCredential Reason = "unsupported_credential"
	// The DPoP proof (RFC 9449) of a DPoP-bound token is missing or
	// invalid, or lacks a fresh server nonce; the challenge carries the
	// RFC 9449 error code of the same name.
	ReasonInvalidDPoPProof Reason = "invalid_dpop_proof"
	ReasonUseDPoPNonce     Reason = "use_dpop_nonce"
)

// Reasons lists every Reason, for schemas and tests.
var Reasons = []Reason{
	ReasonMalformed, ReasonInvalidSignature, ReasonExpired, ReasonNotYetValid,
	ReasonUnknownIssuer, ReasonUnknownKey, ReasonAudienceMismatch, ReasonInactiveToken,
	ReasonUntrustedCertificate, ReasonInvalidCredentials, ReasonRevoked,
	ReasonAmbiguousCredentials, ReasonUnsupportedCredential,
	ReasonInvalidDPoPProof, ReasonUseDPoPNonce,
}

// Rejection is returned when a credential was presented but is not valid.
// Detail is for operators' logs and must never contain the credential itself.
type Rejection struct {
	Scheme string
	Reason Reason
	Detail string
	// Err is the underlying cause, if any, for errors.Is/As; never logged
	// verbatim by the gateway because library errors may quote input.
	Err error
}

func (r *Rejection) Error() string {
	if r.Detail != "" {
		return fmt.Sprintf("authn: %s credential rejected: %s (%s)", r.Scheme, r.Reason, r.Detail)
	}
	return fmt.Sprintf("authn: %s credential rejected: %s", r.Scheme, r.Reason)
}

func (r *Rejection) Unwrap() error { return r.Err }

// Reject builds a *Rejection; a small helper so authenticators read well.
func Reject(scheme string, reason Reason, detail string, cause error) *Rejection {
	return &Rejection{Scheme: scheme, Reason: reason, Detail: detail, Err: cause}
}

// AsRejection reports whether err is (or wraps) a *Rejection.
func AsRejection(err error) (*Rejection, bool) {
	var r *Rejection
	if errors.As(err, &r) {
		return r, true
	}
	return nil, false
}

// Authenticator verifies one OpenAPI security scheme of one API. Instances are
// built once per configuration generation and must be safe for concurrent use.
type Authenticator interface {
	// Scheme is the OpenAPI securityScheme name this authenticator serves.
	Scheme() string
	// Authenticate inspects only the credential its scheme reads. See the
	// package comment for the meaning of the results.
	Authenticate(r *http.Request) (*Identity, error)
}

// Optional abilities of an Authenticator. The gateway asserts them when it
// compiles an operation, so what a scheme's credential looks like on the
// wire is said once, by the scheme, not re-derived from the OpenAPI
// definition.

// Located is implemented by authenticators whose credential travels outside
// the Authorization header (API keys): the gateway keeps that header, query
// parameter or cookie out of the policy input and removes it before
// proxying (RemoveQueryParams for a query parameter).
type Located interface {
	Location() APIKeyLocation
}

// Challenger is implemented by authenticators that answer a missing or
// invalid credential with an HTTP authentication challenge: the auth-scheme
// of their WWW-Authenticate header ("Basic", "Bearer"). The realm is the
// gateway's, per API; API keys and client certificates have no challenge.
type Challenger interface {
	ChallengeScheme() string
}

var (
	_ Located    = (*APIKey)(nil)
	_ Challenger = (*Basic)(nil)
	_ Challenger = (*Bearer)(nil)
	_ Challenger = (*JWT)(nil)
)
