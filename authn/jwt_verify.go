package authn

import (
	"errors"

	"github.com/gatehouse/gatehouse/authn/jose"
)

// joseReasons maps the JOSE core's failure kinds to rejection reasons, the
// same for every verifier of JWS tokens (bearer JWTs, API keys).
var joseReasons = map[jose.Failure]Reason{
	jose.Malformed:           ReasonMalformed,
	jose.Unsupported:         ReasonUnsupportedCredential,
	jose.AlgorithmNotAllowed: ReasonInvalidSignature,
	jose.BadSignature:        ReasonInvalidSignature,
	jose.WrongType:           ReasonInvalidCredentials,
}

// joseRejection is the Rejection of scheme for an error of package jose: a
// *jose.Error by its Failure, anything else (a header that is not JOSE
// where only JWTs are expected) as malformed. The detail is jose's, which
// never quotes the token.
func joseRejection(scheme string, err error) error {
	// jose returns its *Error unwrapped: the type assertion keeps the
	// attack path free of the allocation errors.As's target would cost.
	je, ok := err.(*jose.Error)
	if !ok {
		var wrapped *jose.Error
		if errors.As(err, &wrapped) {
			je, ok = wrapped, true
		}
	}
	if ok {
		if reason, known := joseReasons[je.Failure]; known {
			return Reject(scheme, reason, je.Detail, nil)
		}
	}
	return Reject(scheme, ReasonMalformed, err.Error(), nil)
}
