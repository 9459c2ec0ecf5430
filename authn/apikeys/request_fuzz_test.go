package apikeys_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/apikeys"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

// FuzzIssueRequest: any body either fails to parse, is refused with
// ErrInvalidRequest, or yields a key that verifies and allows no more than
// was asked — never a panic, never another kind of error.
func FuzzIssueRequest(f *testing.F) {
	for _, s := range []string{
		`{"apis": [{"name": "petstore", "version": "1.0.0"}], "subject": "s", "validity": "24h"}`,
		`{"all_apis": true, "application": "a", "scopes": ["r", "w"], "plan": "gold"}`,
		`{"apis": [{"name": "petstore"}], "subject": "s", "no_expiry": true}`,
		`{"apis": [], "subject": ""}`, `{}`, `[]`, `null`, `{"apis": [{"name": "*"}]}`,
		`{"apis": [{"name": "petstore", "extra": 1}]}`, `{"validity": "-1h"}`, `{} {}`,
		`{"subject": "a\u0000b", "all_apis": true}`, `{"validity": "9999999999h", "all_apis": true, "subject": "s"}`,
	} {
		f.Add([]byte(s))
	}
	svc, err := apikeys.New(apikeys.Config{
		Issuer: iss, Signer: authntest.Must(authntest.GenerateKey(authntest.ECDSAP256)),
		MaxValidity: 1000 * time.Hour, KnownAPIs: []authn.APIRef{petstore},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := apikeys.ParseRequest(body)
		if err != nil {
			return
		}
		out, err := svc.Issue(req)
		if err != nil {
			if !errors.Is(err, apikeys.ErrInvalidRequest) {
				t.Fatalf("%q: %v", body, err)
			}
			return
		}
		id, err := verify(t, svc, out.Key)
		if err != nil {
			t.Fatalf("%q: issued key does not verify: %v", body, err)
		}
		if out.ExpiresAt == nil || out.ExpiresAt.Sub(out.IssuedAt) > 1000*time.Hour {
			t.Fatalf("%q: expiry %v", body, out.ExpiresAt)
		}
		for _, a := range id.APIs {
			if !req.AllAPIs && (a.Name != petstore.Name || (a.Version != "" && a.Version != petstore.Version)) {
				t.Fatalf("%q: key allows %v", body, a)
			}
		}
	})
}
