package authn

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse/authn/dpop"
)

// Sender-constrained tokens. A token's cnf claim (RFC 7800) binds it to a
// key its holder must prove it has; a bound token presented without that
// proof is a stolen token as far as anyone can tell. The gateway verifies
// two confirmation methods:
//
//   - x5t#S256 (RFC 8705): the client certificate of the request. The
//     identity carries it as Confirmation and the base policy refuses the
//     request unless that very certificate was presented
//     (policies/gatehouse/authz/binding.rego, binding_required, 401).
//   - jkt (RFC 9449): a DPoP proof signed by that key, checked by the
//     bearer scheme on every request (Bearer.Authenticate, bearer_dpop.go).
//
// A cnf with any other member is a binding the gateway cannot check, so
// the token is refused (unsupported_credential): accepting it would turn a
// sender-constrained token back into a bearer token (RFC 9449 §7.1, RFC
// 8705 §3).

// confirmation reads a cnf claim: its x5t#S256 and jkt members. An absent
// cnf binds nothing; one that is not an object, a member that is not a
// non-empty string, or any other member is refused.
func confirmation(claims map[string]any) (x5t, jkt string, ce *claimError) {
	v, present := claims["cnf"]
	if !present {
		return "", "", nil
	}
	cnf, ok := v.(map[string]any)
	if !ok {
		return "", "", claimFail(ReasonMalformed, "cnf is not a JSON object")
	}
	for name, m := range cnf {
		s, isStr := m.(string)
		switch {
		case name != "x5t#S256" && name != "jkt":
			return "", "", claimFail(ReasonUnsupportedCredential, "cnf has a confirmation method the gateway does not verify")
		case !isStr || s == "":
			return "", "", claimFail(ReasonMalformed, "cnf."+name+" is not a non-empty string")
		case name == "jkt":
			jkt = s
		default:
			x5t = s
		}
	}
	return x5t, jkt, nil
}

// Confirmation methods, the cnf.method of the identity document.
const (
	CnfDPoP = "dpop"
	CnfMTLS = "mtls"
)

// DPoPMode is how a bearer scheme treats DPoP (RFC 9449): the
// schemes.<name>.dpop setting.
type DPoPMode string

// The DPoP modes.
const (
	// DPoPOff: only `Authorization: Bearer`; a DPoP-bound token (cnf.jkt)
	// is refused, since its proof is never checked.
	DPoPOff DPoPMode = "off"
	// DPoPAllowed: bearer tokens as Bearer, DPoP-bound tokens as
	// `Authorization: DPoP` with a valid proof.
	DPoPAllowed DPoPMode = "allowed"
	// DPoPRequired: only DPoP-bound tokens with a valid proof.
	DPoPRequired DPoPMode = "required"
)

// ParseDPoPMode reads a mode; "" is off.
func ParseDPoPMode(s string) (DPoPMode, error) {
	switch m := DPoPMode(s); m {
	case "":
		return DPoPOff, nil
	case DPoPOff, DPoPAllowed, DPoPRequired:
		return m, nil
	}
	return "", fmt.Errorf("dpop must be required, allowed or off, not %q", s)
}

// DPoPChallenger is implemented by bearer schemes that take DPoP proofs:
// the gateway adds a `DPoP` challenge (RFC 9449 §7.1) with the accepted
// algorithms and, with server nonces on, a DPoP-Nonce header.
type DPoPChallenger interface {
	// DPoP returns the scheme's mode and its proof verifier (nil when off).
	DPoP() (DPoPMode, *dpop.Verifier)
}

var _ DPoPChallenger = (*Bearer)(nil)

// DPoP returns the scheme's DPoP mode and verifier.
func (b *Bearer) DPoP() (DPoPMode, *dpop.Verifier) { return b.dpopMode, b.dpop }

// presentation is how a bearer token came: the Authorization scheme.
type presentation int

const (
	asBearer presentation = iota
	asDPoP
)

// bearerToken reads the token of `Authorization: Bearer`, or of
// `Authorization: DPoP` when the scheme takes DPoP.
func (b *Bearer) bearerToken(r *http.Request) (string, presentation, error) {
	tok, err := authorizationFor(r, b.scheme, "Bearer", b.maxTokenSize+64)
	if b.dpop == nil || !errors.Is(err, ErrNoCredentials) {
		return tok, asBearer, err
	}
	tok, err = authorizationFor(r, b.scheme, "DPoP", b.maxTokenSize+64)
	return tok, asDPoP, err
}

// bind applies the token's binding to a verified identity: a DPoP-bound
// token needs the DPoP scheme and a valid proof of this request, whatever
// cache the identity came from; a scheme that requires DPoP takes nothing
// else. The proof is checked here on every request and never cached.
func (b *Bearer) bind(r *http.Request, id *Identity, tok string, how presentation) (*Identity, error) {
	switch {
	case how == asBearer && id.DPoPKey != "":
		return nil, Reject(b.scheme, ReasonInvalidCredentials, "a DPoP-bound token (cnf.jkt) must come with Authorization: DPoP and a proof", nil)
	case how == asBearer && b.dpopMode == DPoPRequired:
		return nil, Reject(b.scheme, ReasonInvalidCredentials, "the scheme requires DPoP-bound tokens", nil)
	case how == asBearer:
		return id, nil
	case id.DPoPKey == "":
		return nil, Reject(b.scheme, ReasonInvalidCredentials, "the token is not DPoP-bound (no cnf.jkt) but came with Authorization: DPoP", nil)
	}
	err := b.dpop.Verify(r, tok, id.DPoPKey)
	var pe *dpop.Error
	switch {
	case err == nil:
		return id, nil
	case errors.As(err, &pe) && pe.Code == dpop.CodeUseNonce:
		return nil, Reject(b.scheme, ReasonUseDPoPNonce, pe.Detail, nil)
	case errors.As(err, &pe):
		return nil, Reject(b.scheme, ReasonInvalidDPoPProof, pe.Detail, nil)
	}
	return nil, fmt.Errorf("authn: %s: %w", b.scheme, err)
}
