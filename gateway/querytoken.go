package gateway

import (
	"net/http"
	"net/url"
	"strings"
)

// A bearer token in the query (RFC 6750 §2.3, removed by OAuth 2.1) ends up
// in access logs, browser history and Referer headers, and a second token
// there beside a valid Authorization header is one the upstream may read
// instead of the one the gateway verified. No bearer scheme of the gateway
// reads query tokens, so on an operation with a bearer scheme a request
// carrying access_token in its query gets 400 (invalid_request) and is never
// forwarded — unless an API-key scheme of that operation is explicitly
// declared `in: query, name: access_token`.

// queryTokenParam is the RFC 6750 query parameter.
const queryTokenParam = "access_token"

// refusesQueryToken reports whether the operation refuses access_token in
// the query: it has a bearer scheme and no API-key scheme reads that
// parameter.
func refusesQueryToken(op *compiledOp) bool {
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
		if strings.EqualFold(q, queryTokenParam) {
			return false
		}
	}
	return true
}

// hasQueryToken reports whether a raw query names access_token, however it
// is spelled: percent-encoded, in any case, after "&" or ";" (some
// frameworks split on both).
func hasQueryToken(raw string) bool {
	for raw != "" {
		var part string
		i := strings.IndexAny(raw, "&;")
		if i < 0 {
			part, raw = raw, ""
		} else {
			part, raw = raw[:i], raw[i+1:]
		}
		k, _, _ := strings.Cut(part, "=")
		if len(k) < len(queryTokenParam) {
			continue
		}
		if strings.IndexByte(k, '%') >= 0 || strings.IndexByte(k, '+') >= 0 {
			if d, err := url.QueryUnescape(k); err == nil {
				k = d
			}
		}
		if strings.EqualFold(strings.TrimSpace(k), queryTokenParam) {
			return true
		}
	}
	return false
}

// setInvalidRequest writes the RFC 6750 §3.1 challenge of every bearer
// scheme of the operation for a malformed request.
func setInvalidRequest(h http.Header, op *compiledOp) {
	for _, c := range op.challenges {
		if c.kind == "Bearer" {
			h.Add("WWW-Authenticate", "Bearer realm="+quote(c.realm)+`, error="invalid_request", error_description="access token in the query"`)
		}
	}
}
