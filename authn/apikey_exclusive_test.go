package authn_test

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/authn"
)

// One operation reading API keys in a header and a query parameter: the
// same key at both places is one caller, different keys are ambiguous for
// both schemes, a key at one place is authenticated as usual.
func TestExclusiveKeys(t *testing.T) {
	f := newAPIKeyFixture(t)
	other := f.key(t, nil)
	auths := []authn.Authenticator{
		f.authenticator(t, inHeader, nil),
		f.authenticator(t, inQuery, nil),
	}
	authn.ExclusiveKeys(auths)
	cases := []struct {
		name          string
		header, query string
		want          any // nil: verified; an authn.Reason: rejected; else the error
	}{
		{"ok/header-only", staticKey, "", nil},
		{"ok/query-only", "", staticKey, nil},
		{"ok/same-key-both", staticKey, staticKey, nil},
		{"ok/none", "", "", authn.ErrNoCredentials},
		{"fail/different-keys", staticKey, other, authn.ReasonAmbiguousCredentials},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := "/items"
			if tc.query != "" {
				target += "?api_key=" + tc.query
			}
			r := httptest.NewRequest("GET", target, nil)
			if tc.header != "" {
				r.Header.Set("X-API-Key", tc.header)
			}
			for _, a := range auths {
				id, err := a.Authenticate(r)
				loc := a.(authn.Located).Location().In
				hasKey := loc == authn.InHeader && tc.header != "" || loc == authn.InQuery && tc.query != ""
				switch want := tc.want.(type) {
				case nil:
					if hasKey && (err != nil || id == nil) {
						t.Fatalf("%s: err = %v, want verified", loc, err)
					}
					if !hasKey && !errors.Is(err, authn.ErrNoCredentials) {
						t.Fatalf("%s: err = %v, want no credentials", loc, err)
					}
				case authn.Reason:
					rej, ok := authn.AsRejection(err)
					if !ok || rej.Reason != want {
						t.Fatalf("%s: err = %v, want rejection %s", loc, err, want)
					}
				case error:
					if !errors.Is(err, want) {
						t.Fatalf("%s: err = %v, want %v", loc, err, want)
					}
				}
			}
		})
	}
}
