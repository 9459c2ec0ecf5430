package authn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

const stsIss = "https://gatehouse.test/apikeys"

// apiKeyFixture: an ES256 token-service key (and a second, unknown one), the
// verifier config, and static keys.
type apiKeyFixture struct {
	clock  *testClock
	sts    *authntest.Signer
	other  *authntest.Signer
	issuer *authn.APIKeyIssuer
	static *authn.StaticAPIKeys
}

const staticKey = "static-key-0123456789abcdef0123456789abcdef"

func newAPIKeyFixture(t *testing.T) *apiKeyFixture {
	t.Helper()
	f := &apiKeyFixture{
		clock: newClock(),
		sts:   authntest.Must(authntest.NewSigner("ES256", authntest.WithKID("sts-1"))),
		other: authntest.Must(authntest.NewSigner("ES256", authntest.WithKID("sts-1"))),
	}
	keys, err := authn.ParseJWKS(authntest.Must(authntest.JWKS(f.sts)), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.issuer = &authn.APIKeyIssuer{Name: "api_keys", Issuer: stsIss, Keys: keys}
	f.static, err = authn.ParseStaticAPIKeys(map[string]any{
		"erp": map[string]any{
			"sha256":      authn.HashAPIKey(staticKey),
			"application": "erp-app",
			"apis":        []any{map[string]any{"name": "petstore", "version": "1.0.0"}},
			"scopes":      []any{"read"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *apiKeyFixture) claims(edit func(map[string]any)) map[string]any {
	now := f.clock.Now()
	c := map[string]any{
		"iss": stsIss, "sub": "partner-1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": "key-1", "token_use": "gatehouse_api_key", "application": "app-1", "plan": "gold",
		"apis": []any{map[string]any{"name": "petstore", "version": "1.0.0"}},
	}
	if edit != nil {
		edit(c)
	}
	return c
}

func (f *apiKeyFixture) key(t *testing.T, edit func(map[string]any), opts ...authntest.MintOption) string {
	t.Helper()
	return mint(t, f.sts, f.claims(edit), append([]authntest.MintOption{authntest.WithTyp(authn.APIKeyTyp)}, opts...)...)
}

func (f *apiKeyFixture) authenticator(t *testing.T, loc authn.APIKeyLocation, edit func(*authn.APIKeyIssuer)) *authn.APIKey {
	t.Helper()
	is := *f.issuer
	if edit != nil {
		edit(&is)
	}
	a, err := authn.NewAPIKey("partnerKey", authn.APIKeyConfig{
		Location: loc, Issuer: &is, Static: func() *authn.StaticAPIKeys { return f.static },
	}, authn.WithClock(f.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var (
	inHeader = authn.APIKeyLocation{In: authn.InHeader, Name: "X-API-Key"}
	inQuery  = authn.APIKeyLocation{In: authn.InQuery, Name: "api_key"}
	inCookie = authn.APIKeyLocation{In: authn.InCookie, Name: "gh_key"}
)

func keyRequest(t *testing.T, loc authn.APIKeyLocation, keys ...string) *http.Request {
	t.Helper()
	r, _ := http.NewRequest("GET", "https://gw.test/pets", nil)
	var q []string
	for _, k := range keys {
		switch loc.In {
		case authn.InHeader:
			r.Header.Add(loc.Name, k)
		case authn.InQuery:
			q = append(q, url.QueryEscape(loc.Name)+"="+url.QueryEscape(k))
		case authn.InCookie:
			r.AddCookie(&http.Cookie{Name: loc.Name, Value: k})
		}
	}
	r.URL.RawQuery = strings.Join(append(q, "color=red"), "&")
	return r
}

func TestAPIKeyAuthenticate(t *testing.T) {
	f := newAPIKeyFixture(t)
	good := f.key(t, nil)
	tests := []struct {
		name   string
		loc    authn.APIKeyLocation
		keys   []string
		edit   func(*authn.APIKeyIssuer)
		reason authn.Reason // "" = verified; "none" = ErrNoCredentials
	}{
		{"ok/header", inHeader, []string{good}, nil, ""},
		{"ok/query", inQuery, []string{good}, nil, ""},
		{"ok/cookie", inCookie, []string{good}, nil, ""},
		{"ok/static-header", inHeader, []string{staticKey}, nil, ""},
		{"ok/static-query", inQuery, []string{staticKey}, nil, ""},
		{"ok/no-exp-allowed", inHeader, []string{f.key(t, func(c map[string]any) { delete(c, "exp") })}, func(is *authn.APIKeyIssuer) { is.AllowNoExpiry = true }, ""},
		{"ok/expired-within-leeway", inHeader, []string{f.key(t, func(c map[string]any) { c["exp"] = f.clock.Now().Add(-30 * time.Second).Unix() })}, nil, ""},
		{"ok/all-apis", inHeader, []string{f.key(t, func(c map[string]any) { c["apis"] = []any{map[string]any{"name": "*"}} })}, nil, ""},
		{"fail/none-header", inHeader, nil, nil, "none"},
		{"fail/none-query", inQuery, nil, nil, "none"},
		{"fail/none-cookie", inCookie, nil, nil, "none"},
		{"fail/two-headers", inHeader, []string{good, good}, nil, authn.ReasonAmbiguousCredentials},
		{"fail/two-query", inQuery, []string{good, staticKey}, nil, authn.ReasonAmbiguousCredentials},
		{"fail/two-cookies", inCookie, []string{good, staticKey}, nil, authn.ReasonAmbiguousCredentials},
		{"fail/empty", inHeader, []string{""}, nil, authn.ReasonMalformed},
		{"fail/too-long", inHeader, []string{strings.Repeat("a", authn.DefaultMaxAPIKeySize+1)}, nil, authn.ReasonMalformed},
		{"fail/unknown-opaque", inHeader, []string{"not-a-known-key"}, nil, authn.ReasonInvalidCredentials},
		{"fail/static-wrong-case", inHeader, []string{strings.ToUpper(staticKey)}, nil, authn.ReasonInvalidCredentials},
		{"fail/expired", inHeader, []string{f.key(t, func(c map[string]any) { c["exp"] = f.clock.Now().Add(-time.Hour).Unix() })}, nil, authn.ReasonExpired},
		{"fail/not-yet-valid", inHeader, []string{f.key(t, func(c map[string]any) { c["iat"] = f.clock.Now().Add(time.Hour).Unix() })}, nil, authn.ReasonNotYetValid},
		{"fail/no-exp", inHeader, []string{f.key(t, func(c map[string]any) { delete(c, "exp") })}, nil, authn.ReasonInvalidCredentials},
		{"fail/tampered-signature", inHeader, []string{authntest.TamperSignature(good)}, nil, authn.ReasonInvalidSignature},
		{"fail/tampered-payload", inHeader, []string{authntest.TamperPayload(good, f.claims(func(c map[string]any) { c["apis"] = []any{map[string]any{"name": "*"}} }))}, nil, authn.ReasonInvalidSignature},
		{"fail/wrong-issuer", inHeader, []string{f.key(t, func(c map[string]any) { c["iss"] = "https://evil.test/" })}, nil, authn.ReasonUnknownIssuer},
		{"fail/other-key-same-kid", inHeader, []string{mint(t, f.other, f.claims(nil), authntest.WithTyp(authn.APIKeyTyp))}, nil, authn.ReasonInvalidSignature},
		{"fail/unknown-kid", inHeader, []string{f.key(t, nil, authntest.WithHeader("kid", "sts-9"))}, nil, authn.ReasonUnknownKey},
		{"fail/access-token-typ", inHeader, []string{mint(t, f.sts, f.claims(func(c map[string]any) { delete(c, "token_use") }), authntest.WithTyp("at+jwt"))}, nil, authn.ReasonInvalidCredentials},
		{"fail/typ-without-claim", inHeader, []string{f.key(t, func(c map[string]any) { delete(c, "token_use") })}, nil, authn.ReasonInvalidCredentials},
		{"fail/claim-without-typ", inHeader, []string{mint(t, f.sts, f.claims(nil))}, nil, authn.ReasonInvalidCredentials},
		{"fail/alg-none", inHeader, []string{authntest.Unsigned(f.claims(nil))}, nil, authn.ReasonInvalidSignature},
		{"fail/hs256", inHeader, []string{mint(t, authntest.Must(authntest.NewSigner("HS256", authntest.WithKID("sts-1"))), f.claims(nil), authntest.WithTyp(authn.APIKeyTyp))}, nil, authn.ReasonInvalidSignature},
		{"fail/apis-missing", inHeader, []string{f.key(t, func(c map[string]any) { delete(c, "apis") })}, nil, authn.ReasonMalformed},
		{"fail/apis-wrong-shape", inHeader, []string{f.key(t, func(c map[string]any) { c["apis"] = []any{"petstore"} })}, nil, authn.ReasonMalformed},
		{"fail/jwe", inHeader, []string{authntest.FakeJWE()}, nil, authn.ReasonUnsupportedCredential},
		{"fail/malformed-jws", inHeader, []string{"a.b.c"}, nil, authn.ReasonMalformed},
		{"fail/bad-query-encoding", inQuery, nil, nil, authn.ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := f.authenticator(t, tc.loc, tc.edit)
			r := keyRequest(t, tc.loc, tc.keys...)
			if tc.name == "fail/bad-query-encoding" {
				r.URL.RawQuery = "api_key=%zz"
			}
			id, err := a.Authenticate(r)
			switch tc.reason {
			case "":
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if id.Type != authn.TypeAPIKey || id.Scheme != "partnerKey" || len(id.APIs) == 0 {
					t.Fatalf("identity %+v", id.Map())
				}
			case "none":
				if !errors.Is(err, authn.ErrNoCredentials) {
					t.Fatalf("err = %v, want ErrNoCredentials", err)
				}
			default:
				rej, ok := authn.AsRejection(err)
				if !ok || rej.Reason != tc.reason {
					t.Fatalf("err = %v, want rejection %s", err, tc.reason)
				}
				for _, k := range tc.keys {
					if len(k) > 8 && strings.Contains(err.Error(), k) {
						t.Fatal("the rejection quotes the key")
					}
				}
			}
		})
	}
}

func TestAPIKeyIdentity(t *testing.T) {
	f := newAPIKeyFixture(t)
	a := f.authenticator(t, inHeader, nil)
	id, err := a.Authenticate(keyRequest(t, inHeader, f.key(t, func(c map[string]any) { c["scope"] = "read write" })))
	if err != nil {
		t.Fatal(err)
	}
	m := id.Map()
	want := map[string]any{
		"type": "api_key", "subject": "partner-1", "issuer": stsIss, "source": "api_keys",
		"application": "app-1", "client_id": "app-1", "plan": "gold", "token_id": "key-1",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if got := id.APIs; len(got) != 1 || got[0] != (authn.APIRef{Name: "petstore", Version: "1.0.0"}) {
		t.Errorf("apis %v", got)
	}
	if strings.Join(id.Scopes, " ") != "read write" {
		t.Errorf("scopes %v", id.Scopes)
	}

	st, err := a.Authenticate(keyRequest(t, inHeader, staticKey))
	if err != nil {
		t.Fatal(err)
	}
	sm := st.Map()
	if sm["token_id"] != "erp" || sm["subject"] != "erp" || sm["application"] != "erp-app" || sm["source"] != authn.StaticAPIKeySource ||
		sm["credential_id"] != authn.CredentialID(staticKey) {
		t.Errorf("static identity %v", sm)
	}
	again, _ := a.Authenticate(keyRequest(t, inHeader, staticKey))
	if again != st {
		t.Error("static identities are not reused per scheme")
	}
	if _, marked := sm["subscription_validation"]; marked {
		t.Error("subscription_validation set without being configured")
	}

	// With subscription validation, issued and static keys both carry it.
	sv, err := authn.NewAPIKey("partnerKey", authn.APIKeyConfig{Location: inHeader, Issuer: f.issuer,
		Static: func() *authn.StaticAPIKeys { return f.static }, SubscriptionValidation: true}, authn.WithClock(f.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{f.key(t, nil), staticKey} {
		id, err := sv.Authenticate(keyRequest(t, inHeader, k))
		if err != nil || id.Map()["subscription_validation"] != true {
			t.Errorf("subscription_validation missing: %v %v", id, err)
		}
	}
}

func TestAPIKeyCache(t *testing.T) {
	f := newAPIKeyFixture(t)
	a := f.authenticator(t, inHeader, nil)
	k := f.key(t, func(c map[string]any) { c["exp"] = f.clock.Now().Add(2 * time.Minute).Unix() })
	for range 3 {
		if _, err := a.Verify(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	if hits, _ := a.CacheStats(); hits != 2 {
		t.Fatalf("cache hits = %d, want 2", hits)
	}
	// The cache never serves past exp (+ the leeway the verifier applies).
	f.clock.Advance(2*time.Minute + authn.DefaultLeeway + time.Second)
	if _, err := a.Verify(context.Background(), k); err == nil {
		t.Fatal("expired key served from cache")
	}
}

// The bearer JWT authenticator never accepts an API key, even from an issuer
// configured with the token service's own keys and iss.
func TestJWTRejectsAPIKeys(t *testing.T) {
	f := newAPIKeyFixture(t)
	is := &authn.Issuer{Name: "sts-as-idp", Issuer: stsIss, AllowAnyAudience: true, Keys: f.issuer.Keys}
	j, err := authn.NewJWT("bearer", []*authn.Issuer{is}, authn.WithClock(f.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		tok  string
		ok   bool
	}{
		{"ok/plain-jwt-same-keys", mint(t, f.sts, f.claims(func(c map[string]any) { delete(c, "token_use") })), true},
		{"fail/api-key", f.key(t, nil), false},
		{"fail/typ-only", f.key(t, func(c map[string]any) { delete(c, "token_use") }), false},
		{"fail/claim-only", mint(t, f.sts, f.claims(nil)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := j.Verify(context.Background(), tc.tok)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if rej, ok := authn.AsRejection(err); !ok || rej.Reason != authn.ReasonInvalidCredentials {
				t.Fatalf("err = %v, want invalid_credentials", err)
			}
		})
	}
}

func TestNewAPIKeyErrors(t *testing.T) {
	f := newAPIKeyFixture(t)
	neg := -time.Second
	tests := []struct {
		name string
		cfg  authn.APIKeyConfig
	}{
		{"fail/bad-in", authn.APIKeyConfig{Location: authn.APIKeyLocation{In: "body", Name: "k"}}},
		{"fail/no-name", authn.APIKeyConfig{Location: authn.APIKeyLocation{In: "header"}}},
		{"fail/authorization-header", authn.APIKeyConfig{Location: authn.APIKeyLocation{In: "header", Name: "authorization"}}},
		{"fail/issuer-no-keys", authn.APIKeyConfig{Location: inHeader, Issuer: &authn.APIKeyIssuer{Name: "x", Issuer: "y"}}},
		{"fail/issuer-no-iss", authn.APIKeyConfig{Location: inHeader, Issuer: &authn.APIKeyIssuer{Name: "x", Keys: f.issuer.Keys}}},
		{"fail/issuer-bad-alg", authn.APIKeyConfig{Location: inHeader, Issuer: &authn.APIKeyIssuer{Name: "x", Issuer: "y", Keys: f.issuer.Keys, Algorithms: []string{"HS256"}}}},
		{"fail/issuer-bad-leeway", authn.APIKeyConfig{Location: inHeader, Issuer: &authn.APIKeyIssuer{Name: "x", Issuer: "y", Keys: f.issuer.Keys, Leeway: &neg}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := authn.NewAPIKey("k", tc.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	// No issuer and no static keys: every key is unknown, nothing panics.
	a, err := authn.NewAPIKey("k", authn.APIKeyConfig{Location: inHeader})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(keyRequest(t, inHeader, staticKey)); err == nil {
		t.Fatal("a key was accepted with nothing configured")
	}
}

func TestParseStaticAPIKeys(t *testing.T) {
	h := authn.HashAPIKey("k")
	apis := []any{map[string]any{"name": "petstore"}}
	tests := []struct {
		name string
		data any
		n    int
		err  string
	}{
		{"ok/nil", nil, 0, ""},
		{"ok/one", map[string]any{"a": map[string]any{"sha256": h, "apis": apis}}, 1, ""},
		{"ok/uppercase-hex", map[string]any{"a": map[string]any{"sha256": strings.ToUpper(h), "apis": apis, "plan": "p", "subject": "s", "application": "x", "scopes": []any{"r"}}}, 1, ""},
		{"fail/not-object", []any{}, 0, "must be an object"},
		{"fail/entry-not-object", map[string]any{"a": "x"}, 0, "not an object"},
		{"fail/short-hash", map[string]any{"a": map[string]any{"sha256": "abcd", "apis": apis}}, 0, "64 hex"},
		{"fail/no-hash", map[string]any{"a": map[string]any{"apis": apis}}, 0, "64 hex"},
		{"fail/no-apis", map[string]any{"a": map[string]any{"sha256": h}}, 0, "apis is required"},
		{"fail/apis-not-list", map[string]any{"a": map[string]any{"sha256": h, "apis": "petstore"}}, 0, "not an array"},
		{"fail/unknown-member", map[string]any{"a": map[string]any{"sha256": h, "apis": apis, "api": apis}}, 0, "unknown member"},
		{"fail/scopes-not-strings", map[string]any{"a": map[string]any{"sha256": h, "apis": apis, "scopes": []any{1}}}, 0, "non-string"},
		{"fail/plan-not-string", map[string]any{"a": map[string]any{"sha256": h, "apis": apis, "plan": 1}}, 0, "plan is not a string"},
		{"fail/duplicate-hash", map[string]any{"a": map[string]any{"sha256": h, "apis": apis}, "b": map[string]any{"sha256": h, "apis": apis}}, 0, "same sha256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := authn.ParseStaticAPIKeys(tc.data)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || s.Len() != tc.n {
				t.Fatalf("len %d err %v", s.Len(), err)
			}
		})
	}
}

// API key identities (issued, static, with subscription validation) match
// schemas/identity.schema.json.
func TestAPIKeyIdentityMatchesSchema(t *testing.T) {
	s := identitySchema(t)
	f := newAPIKeyFixture(t)
	for _, sub := range []bool{false, true} {
		a, err := authn.NewAPIKey("partnerKey", authn.APIKeyConfig{Location: inHeader, Issuer: f.issuer,
			Static: func() *authn.StaticAPIKeys { return f.static }, SubscriptionValidation: sub}, authn.WithClock(f.clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		for name, k := range map[string]string{"issued": f.key(t, func(c map[string]any) { c["scope"] = "read" }), "static": staticKey} {
			id, err := a.Authenticate(keyRequest(t, inHeader, k))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(id)
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(v); err != nil {
				t.Errorf("%s (subscription validation %v): %s\n%v", name, sub, raw, err)
			}
		}
	}
}
