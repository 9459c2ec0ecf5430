package authn

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
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
// The query is read exactly as RemoveQueryParams strips it before
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
// A parameter whose name does not decode is not this one.
func queryValues(out []string, raw, name string) ([]string, error) {
	for q := (queryScanner{rest: raw, more: raw != ""}); q.more; {
		part, k, ok := q.next()
		if !ok || k != name {
			continue
		}
		_, v, _ := strings.Cut(part, "=")
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

// RemoveQueryParams removes the parameters called names from a raw query
// and keeps every other byte of it as the client sent it. It reads names
// exactly as APIKeyLocation reads a key (queryScanner), so what
// authenticated is what the upstream never sees; a name that does not
// decode is compared as sent.
func RemoveQueryParams(raw string, names []string) string {
	if raw == "" {
		return raw
	}
	var b strings.Builder
	b.Grow(len(raw))
	first := true
	for q := (queryScanner{rest: raw, more: true}); q.more; {
		part, k, _ := q.next()
		if slices.Contains(names, k) {
			continue
		}
		if !first {
			b.WriteByte('&')
		}
		first = false
		b.WriteString(part)
	}
	return b.String()
}

// QueryParams calls yield with each query parameter of raw, name and value
// percent-decoded ('+' as space), in order, skipping the names in skip —
// read exactly as APIKeyLocation reads a key and RemoveQueryParams strips
// it, so the policy never sees a credential the proxy removes. A value that
// is not valid percent-encoding is passed as sent.
func QueryParams(raw string, skip []string, yield func(name, value string)) {
	for q := (queryScanner{rest: raw, more: raw != ""}); q.more; {
		part, name, _ := q.next()
		if part == "" || slices.Contains(skip, name) {
			continue
		}
		_, v, _ := strings.Cut(part, "=")
		if strings.ContainsAny(v, "%+") {
			if dv, err := url.QueryUnescape(v); err == nil {
				v = dv
			}
		}
		yield(name, v)
	}
}

// queryScanner walks a raw query's '&'-separated parts as strings.Split
// does (empty parts included), with each part's name percent-decoded. It is
// the one reader of query parameters for API keys: reading the key and
// removing it before proxying must never disagree (api%5Fkey is api_key).
type queryScanner struct {
	rest string
	more bool
}

// next returns the next part, its name decoded (as sent, and ok false, when
// it is not valid percent-encoding).
func (q *queryScanner) next() (part, name string, ok bool) {
	part = q.rest
	if i := strings.IndexByte(q.rest, '&'); i >= 0 {
		part, q.rest = q.rest[:i], q.rest[i+1:]
	} else {
		q.rest, q.more = "", false
	}
	name, _, _ = strings.Cut(part, "=")
	if !strings.ContainsAny(name, "%+") {
		return part, name, true
	}
	dn, err := url.QueryUnescape(name)
	if err != nil {
		return part, name, false
	}
	return part, dn, true
}
