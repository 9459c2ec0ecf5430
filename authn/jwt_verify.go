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
	var je *jose.Error
	if errors.As(err, &je) {
		if reason, ok := joseReasons[je.Failure]; ok {
			return Reject(scheme, reason, je.Detail, nil)
		}
	}
	return Reject(scheme, ReasonMalformed, err.Error(), nil)
}
