// Package pipeline is the gateway's decision core: what one request is
// decided on and how the decision is told. It builds the policy input
// (Input, from the per-operation parts an OpInput prepares once per generation),
// keeps the per-generation decision cache and its key (exactly the inputs a
// cacheable policy reads; bundles.Engine.Cacheable says whether the policy
// reads anything else), and holds the one vocabulary of reasons — every
// reason the request path, the rate limiter and the policy can produce is a
// typed Reason — with the one table that maps each to its status, challenge
// and problem title, and the outcome of each authenticator of an operation.
// Every front door (the reverse proxy, ext_authz, forward-auth, `gatehouse
// explain`) reads a decision through these types.
package pipeline

import (
	"net/http"

	"github.com/gatehouse/gatehouse/bundles"
)

// Reason names why a request was not forwarded (or, for CORSPreflight, why
// the gateway answered it itself). Reasons are part of the audit line, the
// decision log and `gatehouse explain`; policies emit their own in
// decision.reasons.
type Reason string

// Reasons of the request path, before or around the policy.
const (
	// The request target failed normalization (gateway/edge/normalize.go);
	// each refused form has its own reason.
	ReasonPathNotAbsolute     Reason = "path_not_absolute"
	ReasonBadEscape           Reason = "bad_escape"
	ReasonEncodedSeparator    Reason = "encoded_separator"
	ReasonDoubleEncoding      Reason = "double_encoding"
	ReasonBackslash           Reason = "backslash"
	ReasonControlCharacter    Reason = "control_character"
	ReasonInvalidUTF8         Reason = "invalid_utf8"
	ReasonEmptySegment        Reason = "empty_segment"
	ReasonPathTraversal       Reason = "path_traversal"
	ReasonAmbiguousDotSegment Reason = "ambiguous_dot_segment"
	ReasonAbsoluteFormHost    Reason = "absolute_form_host"
	ReasonBadPath             Reason = "bad_path"

	ReasonCORSRejected     Reason = "cors_rejected"
	ReasonCORSPreflight    Reason = "cors_preflight"
	ReasonNoRoute          Reason = "no_route"
	ReasonMethodNotAllowed Reason = "method_not_allowed"
	ReasonMisdirected      Reason = "misdirected_request"
	ReasonRateLimited      Reason = "rate_limited"
	ReasonBodyTooLarge     Reason = "body_too_large"
	ReasonTokenTooLarge    Reason = "token_too_large"
	// ReasonTokenInQuery: access_token in the query of a bearer operation
	// (querytoken.go).
	ReasonTokenInQuery     Reason = "token_in_query"
	ReasonAuthnUnavailable Reason = "authentication_unavailable"
	ReasonPolicyError      Reason = "policy_error"
	ReasonAssertionFailed  Reason = "assertion_failed"
	ReasonDenied           Reason = "denied" // a deny decision without reasons
)

// Reasons the base policy emits (policies/gatehouse/authz).
const (
	ReasonCredentialsInvalid    Reason = "credentials_invalid"
	ReasonRevoked               Reason = "revoked"
	ReasonInsufficientScope     Reason = "insufficient_scope"
	ReasonSubscriptionRequired  Reason = "subscription_required"
	ReasonAPINotAllowed         Reason = "api_not_allowed"
	ReasonBindingRequired       Reason = "binding_required"
	ReasonPrincipalMismatch     Reason = "principal_mismatch"
	ReasonCredentialsMissing    Reason = "credentials_missing"
	ReasonNoSecurityRequirement Reason = "no_security_requirement"
)

// Answer is how a reason becomes an HTTP answer.
type Answer struct {
	Status int
	// Title is the problem+json title.
	Title string
	// Policy: the policy may give this reason in a deny decision. Reasons
	// the request path gives are not policy reasons: a custom rule that
	// emits one is an unknown reason (403).
	Policy bool
	// Rank orders policy reasons when a decision lists several: the lowest
	// wins.
	Rank int
	// Challenge: send the operation's WWW-Authenticate challenges.
	Challenge bool
	// BearerError is the RFC 6750 error code of Bearer challenges.
	BearerError string
}

func answer(status int) Answer { return Answer{Status: status, Title: http.StatusText(status)} }

func policyAnswer(status, rank int, challenge bool, bearerError string) Answer {
	return Answer{Status: status, Title: http.StatusText(status), Policy: true, Rank: rank, Challenge: challenge, BearerError: bearerError}
}

// answers is the one table from reason to answer.
var answers = map[Reason]Answer{
	ReasonPathNotAbsolute:     answer(http.StatusBadRequest),
	ReasonBadEscape:           answer(http.StatusBadRequest),
	ReasonEncodedSeparator:    answer(http.StatusBadRequest),
	ReasonDoubleEncoding:      answer(http.StatusBadRequest),
	ReasonBackslash:           answer(http.StatusBadRequest),
	ReasonControlCharacter:    answer(http.StatusBadRequest),
	ReasonInvalidUTF8:         answer(http.StatusBadRequest),
	ReasonEmptySegment:        answer(http.StatusBadRequest),
	ReasonPathTraversal:       answer(http.StatusBadRequest),
	ReasonAmbiguousDotSegment: answer(http.StatusBadRequest),
	ReasonAbsoluteFormHost:    answer(http.StatusBadRequest),
	ReasonBadPath:             answer(http.StatusBadRequest),
	ReasonCORSRejected:        answer(http.StatusForbidden),
	ReasonCORSPreflight:       answer(http.StatusNoContent),
	ReasonNoRoute:             answer(http.StatusNotFound),
	ReasonMethodNotAllowed:    answer(http.StatusMethodNotAllowed),
	ReasonMisdirected:         answer(http.StatusMisdirectedRequest),
	ReasonRateLimited:         answer(http.StatusTooManyRequests),
	ReasonBodyTooLarge:        answer(http.StatusRequestEntityTooLarge),
	ReasonBodyUnsupported:     answer(http.StatusUnsupportedMediaType),
	ReasonBodyMalformed:       answer(http.StatusBadRequest),
	ReasonBodyUnavailable:     answer(http.StatusInternalServerError),
	ReasonTokenTooLarge:       answer(http.StatusRequestHeaderFieldsTooLarge),
	ReasonTokenInQuery:        answer(http.StatusBadRequest),
	ReasonAuthnUnavailable:    answer(http.StatusServiceUnavailable),
	ReasonAssertionFailed:     answer(http.StatusInternalServerError),

	// policy_error: the policy could not decide (its default decision, or
	// an evaluation error). An internal error, never the client's fault,
	// and it outranks every reason.
	ReasonPolicyError:           policyAnswer(http.StatusInternalServerError, 0, false, ""),
	ReasonCredentialsInvalid:    policyAnswer(http.StatusUnauthorized, 10, true, "invalid_token"),
	ReasonRevoked:               policyAnswer(http.StatusUnauthorized, 11, true, "invalid_token"),
	ReasonInsufficientScope:     policyAnswer(http.StatusForbidden, 20, true, "insufficient_scope"),
	ReasonSubscriptionRequired:  policyAnswer(http.StatusForbidden, 30, false, ""),
	ReasonAPINotAllowed:         policyAnswer(http.StatusForbidden, 31, false, ""),
	ReasonBindingRequired:       policyAnswer(http.StatusUnauthorized, 32, true, "invalid_token"),
	ReasonPrincipalMismatch:     policyAnswer(http.StatusForbidden, 33, false, ""),
	ReasonCredentialsMissing:    policyAnswer(http.StatusUnauthorized, 40, true, ""),
	ReasonNoSecurityRequirement: policyAnswer(http.StatusForbidden, 50, false, ""),
}

// unknownPolicyReason applies to reasons the table does not know (custom
// deny rules): 403 unless the rule asked for a status.
var unknownPolicyReason = Answer{Status: http.StatusForbidden, Title: http.StatusText(http.StatusForbidden), Policy: true, Rank: 60}

// AnswerOf returns the answer of a reason the request path gave; an
// unknown reason answers 403.
func AnswerOf(r Reason) Answer {
	if a, ok := answers[r]; ok {
		return a
	}
	return unknownPolicyReason
}

// PickDenial returns the governing reason of a deny decision and its
// answer: the policy reason of lowest rank; a reason the table does not
// know answers with the decision's status when it asked for one of
// CustomStatuses (shape.go; any other is refused there and answered 403).
func PickDenial(d *bundles.Decision) (Reason, Answer) {
	best, bestA := Reason(""), Answer{Rank: 1 << 30}
	for _, s := range d.Reasons {
		r := Reason(s)
		a, ok := answers[r]
		if !ok || !a.Policy {
			a = unknownPolicyReason
		}
		if a.Rank < bestA.Rank {
			best, bestA = r, a
		}
	}
	if best == "" {
		return ReasonDenied, unknownPolicyReason
	}
	if isCustom(best) && CustomStatuses[d.Status] {
		bestA.Status = d.Status
		bestA.Title = http.StatusText(d.Status)
	}
	return best, bestA
}
