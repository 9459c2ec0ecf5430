package pipeline

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/edge"
)

// Policy-shaped responses: a decision may ask for headers on the client's
// response (allow or deny), request headers the upstream must not see
// (allow), and for a custom denial a status and a JSON body. ShapeOf
// validates them once per request into one Shape that the reverse proxy
// and every front door apply the same way; what it refuses is listed in
// Shape.Refused for one log line, and the answer falls back to what the
// gateway would send without it (fail closed: a refused status is 403,
// a refused body the problem document).

// Header is one header name (canonical) and value.
type Header struct{ Name, Value string }

// Shape is what a decision asks of the answer beyond allow or deny.
type Shape struct {
	// ResponseHeaders go on the client's response, allowed or denied,
	// before the gateway's own (which win: challenges, Retry-After, CORS).
	ResponseHeaders []Header
	// RemoveHeaders are request headers the upstream must not receive
	// (allowed requests only).
	RemoveHeaders []string
	// Body replaces the problem document of a custom denial
	// (application/json).
	Body []byte
	// Refused names what the decision asked for and the gateway refused.
	Refused []string
}

// CustomStatuses are the statuses a custom deny rule may answer with:
// client errors that mean "refused, and why" without protocol side
// effects, and 503 for maintenance. Not 401 (it needs a challenge the
// operation's schemes own), 407, 408, 411, 413-417, 421, 426 and 431
// (each tells the client to change how it sends, or to retry elsewhere),
// nor 5xx besides 503 (they blame an upstream that was never called).
var CustomStatuses = map[int]bool{
	400: true, 402: true, 403: true, 404: true, 405: true, 409: true, 410: true, 412: true,
	422: true, 423: true, 428: true, 429: true, 451: true, 503: true,
}

// Limits on what a decision may add.
const (
	maxShapeHeaders     = 32
	maxShapeHeaderValue = 4096
)

// ownedResponseHeaders are response headers only the gateway (or the
// upstream) may set: framing and hop-by-hop headers, content metadata,
// credentials and challenges, the request id.
var ownedResponseHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Transfer-Encoding": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Content-Length": true, "Content-Type": true,
	"Content-Encoding": true, "Content-Range": true, "Host": true,
	"Authorization": true, "Proxy-Authorization": true, "Proxy-Authenticate": true, "Www-Authenticate": true,
	"Authentication-Info": true, "Set-Cookie": true, "Set-Cookie2": true, "Cookie": true, "X-Request-Id": true,
}

// ownedRequestHeaders are request headers a decision may not remove:
// framing, and what the gateway itself sends upstream (it would set them
// again anyway; refusing says so).
var ownedRequestHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Transfer-Encoding": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Content-Length": true, "Host": true,
	"X-Request-Id": true, "Forwarded": true,
}

// identityHeaders are the names the gateway strips from requests as
// identity headers (gateway/edge/headers.go); a decision may not send them
// to the client either.
var identityHeaders = edge.NewHeaderStripper(edge.DefaultStripHeaders, nil, nil)

// ShapeOf validates what d asks for. reason is the governing reason of a
// denial (PickDenial); gatewayHeaders are the upstream headers the
// gateway sets itself (the identity assertion, mtls.upstream_header).
func ShapeOf(d *bundles.Decision, reason Reason, gatewayHeaders ...string) Shape {
	var s Shape
	if d == nil || (len(d.ResponseHeaders) == 0 && len(d.RemoveHeaders) == 0 && d.Body == nil && d.BodyRefused == "" && d.Status == 0) {
		return s
	}
	if len(d.ResponseHeaders) > 0 {
		names := make([]string, 0, len(d.ResponseHeaders))
		for n := range d.ResponseHeaders {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			v := d.ResponseHeaders[n]
			c := http.CanonicalHeaderKey(n)
			switch {
			case !httpguts.ValidHeaderFieldName(n):
				s.refuse("response header %q: not a header name", n)
			case !httpguts.ValidHeaderFieldValue(v) || len(v) > maxShapeHeaderValue:
				s.refuse("response header %s: value not allowed", c)
			case ownedResponseHeaders[c] || strings.HasPrefix(c, "Access-Control-") || identityHeaders.Matches(c) || matchesAny(c, gatewayHeaders):
				s.refuse("response header %s: the gateway's own", c)
			case len(s.ResponseHeaders) >= maxShapeHeaders:
				s.refuse("response header %s: more than %d", c, maxShapeHeaders)
			default:
				s.ResponseHeaders = append(s.ResponseHeaders, Header{c, v})
			}
		}
	}
	if d.Allow {
		for _, n := range d.RemoveHeaders {
			c := http.CanonicalHeaderKey(n)
			switch {
			case !httpguts.ValidHeaderFieldName(n):
				s.refuse("request header to remove %q: not a header name", n)
			case ownedRequestHeaders[c] || strings.HasPrefix(c, "X-Forwarded-") || matchesAny(c, gatewayHeaders):
				s.refuse("request header to remove %s: the gateway's own", c)
			default:
				s.RemoveHeaders = append(s.RemoveHeaders, c)
			}
		}
		return s
	}
	custom := isCustom(reason)
	if custom && d.Status != 0 && !CustomStatuses[d.Status] {
		s.refuse("status %d: not one of the allowed statuses, answered 403", d.Status)
	}
	if custom && d.BodyRefused != "" {
		s.refuse("body: %s", d.BodyRefused)
	}
	if custom && d.Body != nil {
		s.Body = d.Body
	}
	return s
}

func (s *Shape) refuse(format string, args ...any) {
	s.Refused = append(s.Refused, fmt.Sprintf(format, args...))
}

func matchesAny(c string, names []string) bool {
	for _, n := range names {
		if n != "" && strings.EqualFold(c, n) {
			return true
		}
	}
	return false
}

// isCustom: a reason the table does not know as a policy reason, i.e. one
// a custom deny rule gave; its answer may take the decision's status and
// body.
func isCustom(r Reason) bool {
	a, known := answers[r]
	return r != ReasonDenied && (!known || !a.Policy)
}

// ApplyResponseHeaders sets the shape's response headers on h (before the
// gateway sets its own).
func (s *Shape) ApplyResponseHeaders(h http.Header) {
	for _, x := range s.ResponseHeaders {
		h.Set(x.Name, x.Value)
	}
}

// SetJSONHeaders are the headers of a shaped denial's body.
func SetJSONHeaders(h http.Header, n int) {
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(n))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}
