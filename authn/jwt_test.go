package authn_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

// testClock is an injectable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock { return &testClock{t: time.Unix(1_800_000_000, 0)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	issA = "https://a.example/"
	issB = "https://b.example/"
	issH = "https://hmac.example/"
	issO = "https://one-key.example/"
)

// jwtFixture holds signers of several issuers and the Issuer configs built
// from their public keys (static JWKS; HMAC for issH).
type jwtFixture struct {
	clock                     *testClock
	rsA, esA, edA, psA, es384 *authntest.Signer
	rsB, hsH, oneO            *authntest.Signer
	a, b, h, o                *authn.Issuer
}

var (
	fixtureOnce sync.Once
	fixtureKeys *jwtFixture
)

// signers are generated once per test binary (RSA key generation is slow);
// configs and clocks are fresh per call.
func newJWTFixture(t *testing.T) *jwtFixture {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureKeys = &jwtFixture{
			rsA:   authntest.Must(authntest.NewSigner("RS256", authntest.WithKID("a-rs"))),
			esA:   authntest.Must(authntest.NewSigner("ES256", authntest.WithKID("a-es"))),
			edA:   authntest.Must(authntest.NewSigner("EdDSA", authntest.WithKID("a-ed"))),
			psA:   authntest.Must(authntest.NewSigner("PS256", authntest.WithKID("a-ps"))),
			es384: authntest.Must(authntest.NewSigner("ES384", authntest.WithKID("a-es384"))),
			rsB:   authntest.Must(authntest.NewSigner("RS256", authntest.WithKID("b-rs"))),
			hsH:   authntest.Must(authntest.NewSigner("HS256", authntest.WithKID("h-1"))),
			oneO:  authntest.Must(authntest.NewSigner("ES256", authntest.WithKID("o-1"))),
		}
	})
	f := *fixtureKeys
	f.clock = newClock()
	keysOf := func(signers ...*authntest.Signer) authn.KeySource {
		ks, err := authn.ParseJWKS(authntest.Must(authntest.JWKS(signers...)), nil)
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	f.a = &authn.Issuer{Name: "corp", Issuer: issA, Audiences: []string{"petstore", "other"},
		Keys: keysOf(f.rsA, f.esA, f.edA, f.psA, f.es384)}
	f.b = &authn.Issuer{Name: "partner", Issuer: issB, Audiences: []string{"petstore"}, Keys: keysOf(f.rsB)}
	f.h = &authn.Issuer{Name: "legacy", Issuer: issH, Audiences: []string{"petstore"}, Secret: authn.Redacted(f.hsH.Secret())}
	f.o = &authn.Issuer{Name: "single", Issuer: issO, Audiences: []string{"petstore"}, Keys: keysOf(f.oneO)}
	return &f
}

func (f *jwtFixture) claims(iss string) map[string]any {
	return authntest.Claims(iss, "petstore", f.clock.Now(), time.Hour)
}

func (f *jwtFixture) with(iss string, edit func(map[string]any)) map[string]any {
	c := f.claims(iss)
	edit(c)
	return c
}

func (f *jwtFixture) jwt(t *testing.T, issuers []*authn.Issuer, opts ...authn.Option) *authn.JWT {
	t.Helper()
	j, err := authn.NewJWT("petsOAuth", issuers, append([]authn.Option{authn.WithClock(f.clock.Now)}, opts...)...)
	if err != nil {
		t.Fatalf("NewJWT: %v", err)
	}
	return j
}

func bearer(tok string) []string { return []string{"Bearer " + tok} }

func mint(t *testing.T, s *authntest.Signer, claims map[string]any, opts ...authntest.MintOption) string {
	t.Helper()
	tok, err := s.Mint(claims, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type jwtCase struct {
	name    string
	auth    *authn.JWT // default: the fixture's main authenticator
	headers []string
	reason  authn.Reason
	wantErr error
	check   func(t *testing.T, id *authn.Identity)
	detail  string // the rejection's Detail (for operators' logs) contains this
}

func runJWTCases(t *testing.T, def *authn.JWT, cases []jwtCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			auth := tc.auth
			if auth == nil {
				auth = def
			}
			r, _ := http.NewRequest("GET", "/pets", nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			id, err := auth.Authenticate(r)
			switch {
			case tc.reason != "":
				rej, ok := authn.AsRejection(err)
				if !ok || rej.Reason != tc.reason {
					t.Fatalf("err = %v, want rejection %s", err, tc.reason)
				}
				if rej.Scheme != "petsOAuth" {
					t.Fatalf("rejection scheme = %q", rej.Scheme)
				}
				if id != nil {
					t.Fatal("identity returned with a rejection")
				}
				if !strings.Contains(rej.Detail, tc.detail) {
					t.Fatalf("rejection detail %q lacks %q", rej.Detail, tc.detail)
				}
				for _, h := range tc.headers {
					if tok := strings.TrimPrefix(h, "Bearer "); len(tok) > 8 && strings.Contains(err.Error(), tok) {
						t.Fatal("rejection quotes the token")
					}
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if _, isRej := authn.AsRejection(err); isRej {
					t.Fatalf("err = %v is a rejection", err)
				}
			default:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if id.Type != authn.TypeJWT || id.Scheme != "petsOAuth" {
					t.Fatalf("identity = %+v", id)
				}
				if tc.check != nil {
					tc.check(t, id)
				}
			}
		})
	}
}

func TestJWT(t *testing.T) {
	f := newJWTFixture(t)
	now := f.clock.Now()
	main := f.jwt(t, []*authn.Issuer{f.a, f.b, f.h, f.o})

	zero := time.Duration(0)
	strict := *f.a
	strict.Leeway = &zero
	strictAuth := f.jwt(t, []*authn.Issuer{&strict})

	typed := *f.a
	typed.Types = []string{"at+jwt"}
	typedAuth := f.jwt(t, []*authn.Issuer{&typed})

	short := *f.a
	short.MaxLifetime = 2 * time.Hour
	shortAuth := f.jwt(t, []*authn.Issuer{&short})

	req := *f.a
	req.RequiredClaims = []string{"client_id", "tenant"}
	reqAuth := f.jwt(t, []*authn.Issuer{&req})

	mapped := *f.a
	mapped.Claims = authn.ClaimMapping{Scope: "permissions", ClientID: "appid", Subject: "oid", Application: "application"}
	mappedAuth := f.jwt(t, []*authn.Issuer{&mapped})

	rsOnly := *f.a
	rsOnly.Algorithms = []string{"RS256"}
	rsOnlyAuth := f.jwt(t, []*authn.Issuer{&rsOnly})

	anyAud := *f.a
	anyAud.Audiences, anyAud.AllowAnyAudience = nil, true
	anyAudAuth := f.jwt(t, []*authn.Issuer{&anyAud})

	// A JWKS where key "a-rs" is published for RS256 only.
	psMisuse := *f.a
	rsMap := authntest.Must(f.rsA.JWKMap())
	psMisuse.Keys = authntest.Must(authn.ParseJWKS(authntest.Must(authntest.JWKSFromMaps(rsMap)), nil))
	psMisuseAuth := f.jwt(t, []*authn.Issuer{&psMisuse})

	// Issuer B publishes a key under A's kid "a-rs" (different key material).
	clash := authntest.Must(authntest.NewSigner("RS256", authntest.WithKID("a-rs")))
	bClash := *f.b
	bClash.Keys = authntest.Must(authn.ParseJWKS(authntest.Must(authntest.JWKS(clash)), nil))
	clashAuth := f.jwt(t, []*authn.Issuer{f.a, &bClash})

	scopeCheck := func(want ...string) func(*testing.T, *authn.Identity) {
		return func(t *testing.T, id *authn.Identity) {
			if got := strings.Join(id.Scopes, " "); got != strings.Join(want, " ") {
				t.Fatalf("scopes = %q, want %q", got, strings.Join(want, " "))
			}
		}
	}

	cases := []jwtCase{
		{name: "ok/RS256", headers: bearer(mint(t, f.rsA, f.claims(issA))), check: func(t *testing.T, id *authn.Identity) {
			if id.Subject != "alice" || id.Issuer != issA || id.Source != "corp" {
				t.Fatalf("identity = %+v", id)
			}
			if !id.ExpiresAt.Equal(now.Add(time.Hour)) || !id.IssuedAt.Equal(now) || !id.NotBefore.Equal(now) {
				t.Fatalf("times = %v %v %v", id.IssuedAt, id.NotBefore, id.ExpiresAt)
			}
			if id.TokenID == "" || id.CredentialID == "" || len(id.CredentialID) != 12 {
				t.Fatalf("ids = %q %q", id.TokenID, id.CredentialID)
			}
			if _, ok := id.Claims()["exp"].(json.Number); !ok {
				t.Fatalf("exp claim is %T, want json.Number", id.Claims()["exp"])
			}
		}},
		{name: "ok/ES256", headers: bearer(mint(t, f.esA, f.claims(issA)))},
		{name: "ok/ES384", headers: bearer(mint(t, f.es384, f.claims(issA)))},
		{name: "ok/EdDSA", headers: bearer(mint(t, f.edA, f.claims(issA)))},
		{name: "ok/PS256", headers: bearer(mint(t, f.psA, f.claims(issA)))},
		{name: "ok/HS256-shared-secret", headers: bearer(mint(t, f.hsH, f.claims(issH))), check: func(t *testing.T, id *authn.Identity) {
			if id.Source != "legacy" {
				t.Fatalf("source = %q", id.Source)
			}
		}},
		{name: "ok/second-issuer", headers: bearer(mint(t, f.rsB, f.claims(issB))), check: func(t *testing.T, id *authn.Identity) {
			if id.Source != "partner" || id.Issuer != issB {
				t.Fatalf("identity = %+v", id)
			}
		}},
		{name: "ok/scheme-lowercase", headers: []string{"bearer " + mint(t, f.rsA, f.claims(issA))}},
		{name: "ok/aud-string", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["aud"] = "other" })))},
		{name: "ok/aud-array", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["aud"] = []string{"x", "petstore"} }))),
			check: func(t *testing.T, id *authn.Identity) {
				if strings.Join(id.Audience, ",") != "petstore,x" {
					t.Fatalf("audience = %v", id.Audience)
				}
			}},
		{name: "ok/no-kid-single-key-issuer", headers: bearer(mint(t, f.oneO, f.claims(issO), authntest.WithoutKID()))},
		{name: "ok/scope-string", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["scope"] = "write  read read" }))),
			check: scopeCheck("read", "write")},
		{name: "ok/scp-array", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { delete(c, "scope"); c["scp"] = []string{"b", "a"} }))),
			check: scopeCheck("a", "b")},
		{name: "ok/scope-and-scp-merged", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["scope"] = "a"; c["scp"] = []any{"b", 7} }))),
			check: scopeCheck("a", "b")},
		{name: "ok/client-id-from-azp", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["azp"] = "app-1"; c["cid"] = "ignored" }))),
			check: func(t *testing.T, id *authn.Identity) {
				if id.ClientID != "app-1" {
					t.Fatalf("client_id = %q", id.ClientID)
				}
			}},
		{name: "ok/confirmation", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["cnf"] = map[string]any{"x5t#S256": "abc"} }))),
			check: func(t *testing.T, id *authn.Identity) {
				if id.Confirmation != "abc" {
					t.Fatalf("confirmation = %q", id.Confirmation)
				}
			}},
		{name: "ok/claim-mapping", auth: mappedAuth, headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) {
			c["permissions"] = []string{"p:1"}
			c["appid"] = "client-9"
			c["oid"] = "object-7"
			c["application"] = map[string]any{"id": 42, "name": "shop"}
		}))), check: func(t *testing.T, id *authn.Identity) {
			if id.Subject != "object-7" || id.ClientID != "client-9" || id.Application != "42" || strings.Join(id.Scopes, " ") != "p:1" {
				t.Fatalf("identity = %+v", id)
			}
		}},
		{name: "ok/within-leeway-expired", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["exp"] = now.Add(-30 * time.Second).Unix() })))},
		{name: "ok/within-leeway-nbf", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["nbf"] = now.Add(30 * time.Second).Unix() })))},
		{name: "ok/fractional-exp", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["exp"] = float64(now.Add(time.Hour).Unix()) + 0.5 })))},
		{name: "ok/typ-allowed", auth: typedAuth, headers: bearer(mint(t, f.rsA, f.claims(issA), authntest.WithTyp("application/AT+JWT")))},
		{name: "ok/max-lifetime", auth: shortAuth, headers: bearer(mint(t, f.rsA, f.claims(issA)))},
		{name: "ok/required-claims", auth: reqAuth, headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["client_id"] = "x"; c["tenant"] = "t" })))},
		{name: "ok/any-audience", auth: anyAudAuth, headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { delete(c, "aud") })))},

		{name: "none/no-header", wantErr: authn.ErrNoCredentials},
		{name: "none/basic", headers: []string{"Basic dXNlcjpwYXNz"}, wantErr: authn.ErrNoCredentials},
		{name: "none/opaque", headers: bearer("2YotnFZFEjr1zCsicMWpAA"), wantErr: authn.ErrNotJWT},

		{name: "fail/two-authorization-headers", headers: append(bearer(mint(t, f.rsA, f.claims(issA))), bearer(mint(t, f.rsA, f.claims(issA)))...), reason: authn.ReasonAmbiguousCredentials},
		{name: "fail/expired", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() }))), reason: authn.ReasonExpired},
		{name: "fail/expired-no-leeway", auth: strictAuth, headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["exp"] = now.Unix() }))), reason: authn.ReasonExpired},
		{name: "fail/not-yet-valid", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["nbf"] = now.Add(2 * time.Minute).Unix() }))), reason: authn.ReasonNotYetValid},
		{name: "fail/issued-in-the-future", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["iat"] = now.Add(10 * time.Minute).Unix() }))), reason: authn.ReasonNotYetValid},
		{name: "fail/nbf-no-leeway", auth: strictAuth, headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["nbf"] = now.Add(time.Second).Unix() }))), reason: authn.ReasonNotYetValid},
		{name: "fail/exp-missing", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { delete(c, "exp") }))), reason: authn.ReasonInvalidCredentials},
		{name: "fail/exp-string", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["exp"] = "tomorrow" }))), reason: authn.ReasonMalformed},
		{name: "fail/exp-negative", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["exp"] = -1 }))), reason: authn.ReasonMalformed},
		{name: "fail/exp-huge", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["exp"] = 1e300 }))), reason: authn.ReasonMalformed},
		{name: "fail/wrong-iss", headers: bearer(mint(t, f.rsA, f.claims("https://evil.example/"))), reason: authn.ReasonUnknownIssuer,
			detail: `iss "https://evil.example/" is not a trusted issuer of this scheme (trusted: "` + issA + `", "` + issB + `"`},
		{name: "fail/iss-trailing-slash-differs", headers: bearer(mint(t, f.rsA, f.claims(strings.TrimSuffix(issA, "/")))), reason: authn.ReasonUnknownIssuer,
			detail: `differs from "` + issA + `" only by a trailing slash`},
		{name: "fail/iss-huge-is-clipped", headers: bearer(mint(t, f.rsA, f.claims("https://"+strings.Repeat("x", 400)))), reason: authn.ReasonUnknownIssuer,
			detail: `xxx…" is not a trusted issuer`},
		{name: "fail/no-iss", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { delete(c, "iss") }))), reason: authn.ReasonUnknownIssuer},
		{name: "fail/iss-not-string", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["iss"] = []string{issA} }))), reason: authn.ReasonMalformed},
		{name: "fail/wrong-aud", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["aud"] = "billing" }))), reason: authn.ReasonAudienceMismatch},
		{name: "fail/aud-array-without-ours", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["aud"] = []string{"billing", "PETSTORE"} }))), reason: authn.ReasonAudienceMismatch},
		{name: "fail/no-aud", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { delete(c, "aud") }))), reason: authn.ReasonAudienceMismatch},
		{name: "fail/aud-not-strings", headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["aud"] = []any{"petstore", 1} }))), reason: authn.ReasonMalformed},
		{name: "fail/alg-none", headers: bearer(authntest.Unsigned(f.claims(issA))), reason: authn.ReasonInvalidSignature},
		{name: "fail/alg-none-with-signature", headers: bearer(authntest.TamperSignature(mint(t, f.rsA, f.claims(issA), authntest.WithHeader("alg", "none")))), reason: authn.ReasonInvalidSignature},
		{name: "fail/hs256-signed-with-rsa-public-key", headers: bearer(authntest.Must(authntest.HMACWithPublicKey(f.rsA, f.claims(issA)))), reason: authn.ReasonInvalidSignature},
		{name: "fail/hs256-token-for-rs-issuer", headers: bearer(mint(t, f.hsH, f.claims(issA))), reason: authn.ReasonInvalidSignature},
		{name: "fail/rs256-token-for-hmac-issuer", headers: bearer(mint(t, f.rsA, f.claims(issH))), reason: authn.ReasonInvalidSignature},
		{name: "fail/alg-not-in-issuer-allow-list", auth: rsOnlyAuth, headers: bearer(mint(t, f.esA, f.claims(issA))), reason: authn.ReasonInvalidSignature},
		{name: "fail/alg-not-allowed-for-key", auth: psMisuseAuth, headers: bearer(mint(t, f.rsA, f.claims(issA), authntest.WithHeader("alg", "PS256"))), reason: authn.ReasonInvalidSignature},
		{name: "fail/header-alg-swapped-es-to-rs", headers: bearer(mint(t, f.esA, f.claims(issA), authntest.WithHeader("alg", "RS256"))), reason: authn.ReasonInvalidSignature},
		{name: "fail/tampered-signature", headers: bearer(authntest.TamperSignature(mint(t, f.rsA, f.claims(issA)))), reason: authn.ReasonInvalidSignature},
		{name: "fail/tampered-signature-ES256", headers: bearer(authntest.TamperSignature(mint(t, f.esA, f.claims(issA)))), reason: authn.ReasonInvalidSignature},
		{name: "fail/tampered-payload", headers: bearer(authntest.TamperPayload(mint(t, f.rsA, f.claims(issA)), f.with(issA, func(c map[string]any) { c["sub"] = "root" }))), reason: authn.ReasonInvalidSignature},
		{name: "fail/empty-signature", headers: bearer(strings.TrimRight(mint(t, f.rsA, f.claims(issA)), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")), reason: authn.ReasonInvalidSignature},
		{name: "fail/psychic-ecdsa-zero-signature", headers: bearer(authntest.RawToken(map[string]any{"alg": "ES256", "kid": "a-es"}, f.claims(issA), make([]byte, 64))), reason: authn.ReasonInvalidSignature},
		{name: "fail/ecdsa-signature-wrong-length", headers: bearer(authntest.RawToken(map[string]any{"alg": "ES256", "kid": "a-es"}, f.claims(issA), make([]byte, 65))), reason: authn.ReasonInvalidSignature},
		{name: "fail/unknown-kid", headers: bearer(mint(t, f.rsA, f.claims(issA), authntest.WithHeader("kid", "nope"))), reason: authn.ReasonUnknownKey},
		{name: "fail/no-kid-several-keys", headers: bearer(mint(t, f.rsA, f.claims(issA), authntest.WithoutKID())), reason: authn.ReasonUnknownKey},
		{name: "fail/cross-issuer-A-key-claims-B", headers: bearer(mint(t, f.rsA, f.claims(issB))), reason: authn.ReasonUnknownKey},
		{name: "fail/cross-issuer-same-kid", auth: clashAuth, headers: bearer(mint(t, f.rsA, f.claims(issB))), reason: authn.ReasonInvalidSignature},
		{name: "fail/crit-header", headers: bearer(mint(t, f.rsA, f.claims(issA), authntest.WithHeader("crit", []string{"exp"}), authntest.WithHeader("exp", 1))), reason: authn.ReasonUnsupportedCredential},
		{name: "fail/b64-header", headers: bearer(mint(t, f.rsA, f.claims(issA), authntest.WithHeader("b64", false))), reason: authn.ReasonMalformed},
		{name: "fail/jwe", headers: bearer(authntest.FakeJWE()), reason: authn.ReasonUnsupportedCredential},
		{name: "none/all-dots", headers: bearer(authntest.AllDots(2)), wantErr: authn.ErrNotJWT},
		{name: "none/many-dots", headers: bearer(authntest.AllDots(5000)), wantErr: authn.ErrNotJWT},
		{name: "none/four-parts", headers: bearer("a.b.c.d"), wantErr: authn.ErrNotJWT},
		{name: "fail/oversize", headers: bearer(authntest.Huge(17 << 10)), reason: authn.ReasonMalformed},
		{name: "fail/huge-header", headers: bearer(authntest.Huge(1 << 20)), reason: authn.ReasonMalformed},
		{name: "none/padded-base64", headers: bearer(mint(t, f.rsA, f.claims(issA)) + "=="), wantErr: authn.ErrNotJWT},
		{name: "none/header-not-json", headers: bearer("bm90IGpzb24.eyJpc3MiOiJ4In0.c2ln"), wantErr: authn.ErrNotJWT},
		{name: "fail/header-alg-not-string", headers: bearer(authntest.RawToken(map[string]any{"alg": 1}, f.claims(issA), []byte("x"))), reason: authn.ReasonMalformed},
		{name: "none/header-no-alg", headers: bearer(authntest.RawToken(map[string]any{"kid": "a-rs"}, f.claims(issA), []byte("x"))), wantErr: authn.ErrNotJWT},
		{name: "fail/payload-not-object", headers: bearer(authntest.RawToken(map[string]any{"alg": "RS256"}, nil, []byte("x"))), reason: authn.ReasonMalformed},
		{name: "fail/bearer-two-tokens", headers: []string{"Bearer a.b.c d.e.f"}, reason: authn.ReasonMalformed},
		{name: "fail/bearer-empty", headers: []string{"Bearer "}, reason: authn.ReasonMalformed},
		{name: "fail/typ-not-allowed", auth: typedAuth, headers: bearer(mint(t, f.rsA, f.claims(issA))), reason: authn.ReasonInvalidCredentials},
		{name: "fail/typ-missing", auth: typedAuth, headers: bearer(mint(t, f.rsA, f.claims(issA), authntest.WithHeader("typ", nil))), reason: authn.ReasonInvalidCredentials},
		{name: "fail/max-lifetime", auth: shortAuth, headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["exp"] = now.Add(3 * time.Hour).Unix() }))), reason: authn.ReasonInvalidCredentials},
		{name: "fail/max-lifetime-no-iat-nbf", auth: shortAuth, headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { delete(c, "iat"); delete(c, "nbf") }))), reason: authn.ReasonInvalidCredentials},
		{name: "fail/required-claim-missing", auth: reqAuth, headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["client_id"] = "x" }))), reason: authn.ReasonInvalidCredentials},
		{name: "fail/required-claim-null", auth: reqAuth, headers: bearer(mint(t, f.rsA, f.with(issA, func(c map[string]any) { c["client_id"] = "x"; c["tenant"] = nil }))), reason: authn.ReasonInvalidCredentials},
	}
	runJWTCases(t, main, cases)
}

// A key source that fails (here: none at all; later, an unreachable JWKS)
// is a technical failure, never a rejection and never an identity.
func TestJWTKeySourceFailureIsTechnical(t *testing.T) {
	f := newJWTFixture(t)
	broken := *f.a
	broken.Keys = (*authn.StaticKeys)(nil)
	j := f.jwt(t, []*authn.Issuer{&broken})
	id, err := authenticate(t, j, mint(t, f.rsA, f.claims(issA)))
	if err == nil || id != nil {
		t.Fatal("accepted")
	}
	if _, isRej := authn.AsRejection(err); isRej || errors.Is(err, authn.ErrNoCredentials) {
		t.Fatalf("err = %v, want a technical failure", err)
	}
}

// Keys named by a token's jku, x5u, jwk or x5c are never fetched or used: an
// attacker's server that would serve the signing key sees no request.
func TestJWTIgnoresEmbeddedKeyReferences(t *testing.T) {
	f := newJWTFixture(t)
	attacker := authntest.NewIssuer(t, authntest.WithAlg("RS256"))
	evil := attacker.Signer()
	evilJWK := authntest.Must(evil.JWKMap())
	evilCert := authntest.Must(authntest.Must(authntest.NewCA()).Client("evil", authntest.WithKey(evil.Private().(crypto.Signer))))
	x5c := []string{base64.StdEncoding.EncodeToString(evilCert.Certificate.Raw)}
	auth := f.jwt(t, []*authn.Issuer{f.a})

	cases := []jwtCase{
		{name: "fail/jku", headers: bearer(mint(t, evil, f.claims(issA), authntest.WithHeader("jku", attacker.JWKSURL()))), reason: authn.ReasonUnknownKey},
		{name: "fail/x5u", headers: bearer(mint(t, evil, f.claims(issA), authntest.WithHeader("x5u", attacker.URL()+"/cert.pem"))), reason: authn.ReasonUnknownKey},
		{name: "fail/embedded-jwk", headers: bearer(mint(t, evil, f.claims(issA), authntest.WithHeader("jwk", evilJWK))), reason: authn.ReasonUnknownKey},
		{name: "fail/x5c", headers: bearer(mint(t, evil, f.claims(issA), authntest.WithHeader("x5c", x5c))), reason: authn.ReasonUnknownKey},
		{name: "fail/jku-with-known-kid", headers: bearer(mint(t, evil, f.claims(issA), authntest.WithHeader("jku", attacker.JWKSURL()), authntest.WithHeader("kid", "a-rs"))), reason: authn.ReasonInvalidSignature},
		{name: "ok/jku-on-genuine-token-ignored", headers: bearer(mint(t, f.rsA, f.claims(issA), authntest.WithHeader("jku", attacker.JWKSURL()), authntest.WithHeader("x5u", attacker.URL())))},
	}
	runJWTCases(t, auth, cases)
	if n := attacker.Fetches(); n != 0 {
		t.Fatalf("the attacker's server was fetched %d times", n)
	}
}

func TestJWTVerifyAndChallenge(t *testing.T) {
	f := newJWTFixture(t)
	j := f.jwt(t, []*authn.Issuer{f.a}, authn.WithRealm(`pets "api"`))
	id, err := j.Verify(context.Background(), mint(t, f.rsA, f.claims(issA)))
	if err != nil || id.Subject != "alice" {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := j.Verify(context.Background(), "opaque-token"); !errors.Is(err, authn.ErrNotJWT) || !errors.Is(err, authn.ErrNoCredentials) {
		t.Fatalf("opaque: %v", err)
	}
	if got := j.Challenge(); got != `Bearer realm="pets \"api\""` {
		t.Fatalf("Challenge = %s", got)
	}
	if got := authn.BearerChallenge("r", "insufficient_scope", "needs write"); got != `Bearer realm="r", error="insufficient_scope", error_description="needs write"` {
		t.Fatalf("BearerChallenge = %s", got)
	}
	big := f.jwt(t, []*authn.Issuer{f.a}, authn.WithMaxTokenSize(64))
	if _, err := authenticate(t, big, mint(t, f.rsA, f.claims(issA))); err == nil {
		t.Fatal("WithMaxTokenSize not applied")
	}
}

func TestJWTIdentityDocument(t *testing.T) {
	f := newJWTFixture(t)
	j := f.jwt(t, []*authn.Issuer{f.a})
	id, err := authenticate(t, j, mint(t, f.rsA, f.with(issA, func(c map[string]any) {
		c["big"] = int64(1) << 60
		c["nested"] = map[string]any{"a": []any{1, "x"}}
	})))
	if err != nil {
		t.Fatal(err)
	}
	if got := id.Claims()["big"].(json.Number).String(); got != "1152921504606846976" {
		t.Fatalf("big = %s: large integers must survive", got)
	}
	b, err := json.Marshal(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"type":"jwt"`, `"source":"corp"`, `"scopes":["read","write"]`, `"expires_at":`, `"claims":{`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("identity JSON lacks %s: %s", want, b)
		}
	}
	if id.AST() == nil || id.AST() != id.AST() {
		t.Fatal("AST not built once")
	}
}

func TestNewJWTConfigErrors(t *testing.T) {
	f := newJWTFixture(t)
	secret32 := authn.Redacted(strings.Repeat("s", 32))
	base := func(edit func(*authn.Issuer)) []*authn.Issuer {
		is := *f.a
		edit(&is)
		return []*authn.Issuer{&is}
	}
	d := func(v time.Duration) *time.Duration { return &v }
	tests := []struct {
		name    string
		issuers []*authn.Issuer
		want    string
	}{
		{name: "no-issuers", want: "has no issuers"},
		{name: "nil-issuer", issuers: []*authn.Issuer{nil}, want: "nil issuer"},
		{name: "no-name", issuers: base(func(i *authn.Issuer) { i.Name = "" }), want: "name is required"},
		{name: "no-iss", issuers: base(func(i *authn.Issuer) { i.Issuer = "" }), want: "iss value) is required"},
		{name: "no-audience", issuers: base(func(i *authn.Issuer) { i.Audiences = nil }), want: "audiences are required"},
		{name: "empty-audience", issuers: base(func(i *authn.Issuer) { i.Audiences = []string{""} }), want: "empty audience"},
		{name: "leeway-too-big", issuers: base(func(i *authn.Issuer) { i.Leeway = d(301 * time.Second) }), want: "leeway"},
		{name: "leeway-negative", issuers: base(func(i *authn.Issuer) { i.Leeway = d(-time.Second) }), want: "leeway"},
		{name: "max-lifetime-negative", issuers: base(func(i *authn.Issuer) { i.MaxLifetime = -1 }), want: "max lifetime"},
		{name: "keys-and-secret", issuers: base(func(i *authn.Issuer) { i.Secret = secret32 }), want: "either keys or a shared secret"},
		{name: "no-keys", issuers: base(func(i *authn.Issuer) { i.Keys = nil }), want: "no keys"},
		{name: "short-secret", issuers: base(func(i *authn.Issuer) { i.Keys, i.Secret = nil, "short" }), want: "shorter than the minimum of 32"},
		{name: "alg-none", issuers: base(func(i *authn.Issuer) { i.Algorithms = []string{"none"} }), want: `"none" is not accepted`},
		{name: "alg-unknown", issuers: base(func(i *authn.Issuer) { i.Algorithms = []string{"RS1"} }), want: "not accepted"},
		{name: "hs-with-keys", issuers: base(func(i *authn.Issuer) { i.Algorithms = []string{"RS256", "HS256"} }), want: "HS256 needs a shared secret"},
		{name: "rs-with-secret", issuers: base(func(i *authn.Issuer) { i.Keys, i.Secret, i.Algorithms = nil, secret32, []string{"RS256"} }), want: "accepts only HS256/HS384/HS512"},
		{name: "hs512-short-secret", issuers: base(func(i *authn.Issuer) { i.Keys, i.Secret, i.Algorithms = nil, secret32, []string{"HS512"} }), want: "too short for HS512"},
		{name: "empty-typ", issuers: base(func(i *authn.Issuer) { i.Types = []string{""} }), want: "empty typ"},
		{name: "empty-required-claim", issuers: base(func(i *authn.Issuer) { i.RequiredClaims = []string{""} }), want: "empty required claim"},
		{name: "same-iss-twice", issuers: []*authn.Issuer{f.a, func() *authn.Issuer { c := *f.b; c.Issuer = issA; return &c }()}, want: "have the same iss"},
		{name: "same-name-twice", issuers: []*authn.Issuer{f.a, func() *authn.Issuer { c := *f.b; c.Name = "corp"; return &c }()}, want: "listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := authn.NewJWT("petsOAuth", tc.issuers)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), string(secret32)) {
				t.Fatal("error reveals the secret")
			}
		})
	}
	// The same Issuer may serve several schemes; Validate agrees with NewJWT.
	if err := f.a.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := authn.NewJWT("other", []*authn.Issuer{f.a}); err != nil {
		t.Fatal(err)
	}
}
