package authn

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// Where an OpenAPI apiKey scheme puts its key (the scheme's "in").
const (
	InHeader = "header"
	InQuery  = "query"
	InCookie = "cookie"
)

// APIKeyLocation is where an apiKey scheme's key travels: a header, a query
// parameter or a cookie, under the scheme's own name. Different schemes (so
// different resources of one API) may use different locations and names.
//
// The query is read exactly as the gateway's proxy strips it before
// forwarding: the raw query split at '&', each name percent-decoded (so
// api%5Fkey is api_key); the cookie by its exact name. What authenticates is
// therefore exactly what is removed.
type APIKeyLocation struct {
	In   string
	Name string
}

// Validate checks the location.
func (l APIKeyLocation) Validate() error {
	switch l.In {
	case InHeader, InQuery, InCookie:
	default:
		return fmt.Errorf("api key location %q is not header, query or cookie", l.In)
	}
	if l.Name == "" {
		return errors.New("api key location has no name")
	}
	if l.In == InHeader && strings.EqualFold(l.Name, "Authorization") {
		return errors.New("an apiKey scheme cannot read the Authorization header; use an http scheme")
	}
	return nil
}

func (l APIKeyLocation) String() string { return l.In + " " + l.Name }

// errUndecodable marks a query value that is not valid percent-encoding.
var errUndecodable = errors.New("query parameter is not valid percent-encoding")

// Values returns every value the request carries at this location, in
// order. A query value that does not decode is an error.
func (l APIKeyLocation) Values(r *http.Request) ([]string, error) {
	return l.appendValues(nil, r)
}

// appendValues appends the values to dst; with a stack buffer as dst the
// usual single key costs no allocation.
func (l APIKeyLocation) appendValues(dst []string, r *http.Request) ([]string, error) {
	switch l.In {
	case InHeader:
		return append(dst, r.Header[textproto.CanonicalMIMEHeaderKey(l.Name)]...), nil
	case InQuery:
		return queryValues(dst, r.URL.RawQuery, l.Name)
	case InCookie:
		for _, c := range r.CookiesNamed(l.Name) {
			dst = append(dst, c.Value)
		}
		return dst, nil
	}
	return dst, nil
}

// single returns the one key at this location: ErrNoCredentials when there
// is none, ambiguous_credentials when there are several, malformed when it
// does not decode.
func (l APIKeyLocation) single(r *http.Request, scheme string) (string, error) {
	var buf [2]string
	vals, err := l.appendValues(buf[:0], r)
	switch {
	case err != nil:
		return "", Reject(scheme, ReasonMalformed, err.Error(), nil)
	case len(vals) == 0:
		return "", ErrNoCredentials
	case len(vals) > 1:
		return "", Reject(scheme, ReasonAmbiguousCredentials, "more than one API key in the "+l.In, nil)
	}
	return vals[0], nil
}

// queryValues appends the values of parameter name in a raw query to out.
func queryValues(out []string, raw, name string) ([]string, error) {
	for raw != "" {
		part := raw
		if i := strings.IndexByte(raw, '&'); i >= 0 {
			part, raw = raw[:i], raw[i+1:]
		} else {
			raw = ""
		}
		k, v, _ := strings.Cut(part, "=")
		if strings.ContainsAny(k, "%+") {
			dk, err := url.QueryUnescape(k)
			if err != nil {
				continue // not this parameter: the proxy keeps it as is
			}
			k = dk
		}
		if k != name {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			dv, err := url.QueryUnescape(v)
			if err != nil {
				return nil, errUndecodable
			}
			v = dv
		}
		out = append(out, v)
	}
	return out, nil
}
