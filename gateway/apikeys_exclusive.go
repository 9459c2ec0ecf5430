package gateway

import (
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/authn"
)

// exclusiveAPIKeys makes the API key schemes of an operation that reads keys
// at several locations (say a header scheme and a query scheme) mutually
// exclusive: a request that carries different keys at two of them is
// ambiguous — which key is the caller? — and each such scheme rejects it
// with ambiguous_credentials (401), instead of the policy silently picking
// one. The same key at two locations is not ambiguous. Two keys at one
// location are rejected by the authenticator itself.
func exclusiveAPIKeys(c *compiledOp) {
	var keys []*authn.APIKey
	for _, a := range c.authenticators {
		if k, ok := a.(*authn.APIKey); ok {
			keys = append(keys, k)
		}
	}
	if len(keys) < 2 {
		return
	}
	for i, a := range c.authenticators {
		k, ok := a.(*authn.APIKey)
		if !ok {
			continue
		}
		var others []authn.APIKeyLocation
		for _, o := range keys {
			if l := o.Location(); l != k.Location() && !containsLoc(others, l) {
				others = append(others, l)
			}
		}
		if len(others) > 0 {
			c.authenticators[i] = &exclusiveAPIKey{APIKey: k, others: others}
		}
	}
}

func containsLoc(ls []authn.APIKeyLocation, l authn.APIKeyLocation) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

// exclusiveAPIKey is an API key authenticator that also looks at the other
// API key locations of its operation.
type exclusiveAPIKey struct {
	*authn.APIKey
	others []authn.APIKeyLocation
}

func (e *exclusiveAPIKey) Authenticate(r *http.Request) (*authn.Identity, error) {
	id, err := e.APIKey.Authenticate(r)
	if errors.Is(err, authn.ErrNoCredentials) {
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
				return nil, authn.Reject(e.Scheme(), authn.ReasonAmbiguousCredentials, "different API keys in the "+e.Location().In+" and the "+l.In, nil)
			}
		}
	}
	return id, err
}
