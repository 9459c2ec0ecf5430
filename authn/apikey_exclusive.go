package authn

import (
	"errors"
	"net/http"
	"slices"
)

// locatedAuthenticator is an authenticator whose credential has a location
// outside the Authorization header (an API key).
type locatedAuthenticator interface {
	Authenticator
	Located
}

// ExclusiveKeys makes the located schemes (API keys) of one operation that
// reads keys at several locations (say a header scheme and a query scheme)
// mutually exclusive: a request that carries different keys at two of them
// is ambiguous — which key is the caller? — and each such scheme rejects it
// with ambiguous_credentials (401), instead of the policy silently picking
// one. The same key at two locations is not ambiguous. Two keys at one
// location are rejected by the authenticator itself. auths is changed in
// place: each such authenticator is replaced by one that also looks at the
// other locations.
func ExclusiveKeys(auths []Authenticator) {
	var keys []locatedAuthenticator
	for _, a := range auths {
		if k, ok := a.(locatedAuthenticator); ok {
			keys = append(keys, k)
		}
	}
	if len(keys) < 2 {
		return
	}
	for i, a := range auths {
		k, ok := a.(locatedAuthenticator)
		if !ok {
			continue
		}
		var others []APIKeyLocation
		for _, o := range keys {
			if l := o.Location(); l != k.Location() && !slices.Contains(others, l) {
				others = append(others, l)
			}
		}
		if len(others) > 0 {
			auths[i] = &exclusiveKey{locatedAuthenticator: k, others: others}
		}
	}
}

// exclusiveKey is a located authenticator that also looks at the other key
// locations of its operation.
type exclusiveKey struct {
	locatedAuthenticator
	others []APIKeyLocation
}

func (e *exclusiveKey) Authenticate(r *http.Request) (*Identity, error) {
	id, err := e.locatedAuthenticator.Authenticate(r)
	if errors.Is(err, ErrNoCredentials) {
		return id, err
	}
	own, verr := e.Location().Values(r)
	if verr != nil || len(own) != 1 {
		return id, err // already rejected (malformed or ambiguous)
	}
	for _, l := range e.others {
		vals, _ := l.Values(r)
		for _, v := range vals {
			if v != own[0] {
				return nil, Reject(e.Scheme(), ReasonAmbiguousCredentials, "different API keys in the "+e.Location().In+" and the "+l.In, nil)
			}
		}
	}
	return id, err
}
