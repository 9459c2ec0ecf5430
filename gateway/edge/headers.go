package edge

import "net/http"

// methodOverrideHeaders make some frameworks run another method than the one
// the gateway authorized (a GET that the upstream treats as a DELETE). They
// are removed from every request: the policy and the upstream see one
// method, the request line's.
var methodOverrideHeaders = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// StripMethodOverrides removes method-override headers in place.
func StripMethodOverrides(h http.Header) {
	for _, n := range methodOverrideHeaders {
		delete(h, n)
	}
}
