package pipeline

import (
	"errors"
	"net/http"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse/gatehouse/gateway/policybody"
)

// input.request.body, for operations that opt in (OpInput.ReadsBody): read once
// up to the limit, parsed, and put back for the upstream
// (gateway/policybody). Anything that keeps the policy from seeing the
// body the upstream will get is refused, never decided without it.

var kBody = ast.StringTerm("body")

// Reasons of the policy body.
const (
	ReasonBodyUnsupported Reason = "body_unsupported_type"
	ReasonBodyMalformed   Reason = "body_malformed"
	ReasonBodyUnavailable Reason = "body_unavailable"
)

// ErrBodyUnavailable is the failure logged when a front door could not
// pass the body of an operation whose policy reads it.
var ErrBodyUnavailable = errors.New("the policy of this operation reads the request body, which this front door does not pass on whole (use the proxy, or Envoy ext_authz with with_request_body)")

// ReadBody reads and parses r's body for the policy. A request without a
// body gives nil (input.request.body absent). On refusal it returns the
// reason and, for body_unavailable, the failure to log.
func ReadBody(r *http.Request, limit int64) (ast.Value, Reason, error) {
	if policybody.Unavailable(r.Context()) {
		return nil, ReasonBodyUnavailable, ErrBodyUnavailable
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, "", nil
	}
	if policybody.EncodedBody(r.Header) {
		return nil, ReasonBodyUnsupported, nil
	}
	raw, err := policybody.Read(r, limit)
	switch {
	case errors.Is(err, policybody.ErrTooLarge):
		return nil, ReasonBodyTooLarge, nil
	case err != nil:
		return nil, ReasonBodyMalformed, nil
	case raw == nil:
		return nil, "", nil
	}
	kind, err := policybody.KindOf(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, ReasonBodyUnsupported, nil
	}
	v, err := policybody.Parse(kind, raw)
	if err != nil {
		return nil, ReasonBodyMalformed, nil
	}
	return v, "", nil
}

// bodyTerm is the body member of input.request, or nil.
func (in *Input) bodyTerm() *ast.Term {
	if in.Body == nil {
		return nil
	}
	return ast.NewTerm(in.Body)
}
