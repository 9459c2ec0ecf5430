package pipeline

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/gateway/edge"
)

// A bearer token in the query (RFC 6750 §2.3, removed by OAuth 2.1) ends up
// in access logs, browser history and Referer headers, and a second token
// there beside a valid Authorization header is one the upstream may read
// instead of the one the gateway verified. No bearer scheme of the gateway
// reads query tokens, so on an operation with a bearer scheme a request
// carrying access_token in its query gets 400 (invalid_request) and is never
// forwarded — unless an API-key scheme of that operation is explicitly
// declared `in: query, name: access_token`.

// refusesQueryToken reports whether the operation refuses access_token in
// the query: it has a bearer scheme and no API-key scheme reads that
// parameter.
func refusesQueryToken(op *Op) bool {
	bearer := false
	for _, c := range op.challenges {
		if c.kind == "Bearer" {
			bearer = true
		}
	}
	if !bearer {
		return false
	}
	for _, q := range op.stripQuery {
		if strings.EqualFold(q, edge.QueryTokenParam) {
			return false
		}
	}
	return true
}

// SetInvalidRequest writes the RFC 6750 §3.1 challenge of every bearer
// scheme of the operation for a malformed request.
func (op *Op) SetInvalidRequest(h http.Header) {
	for _, c := range op.challenges {
		if c.kind == "Bearer" {
			h.Add("WWW-Authenticate", "Bearer realm="+quote(c.realm)+`, error="invalid_request", error_description="access token in the query"`)
		}
	}
}
