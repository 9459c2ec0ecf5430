package authn_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

// The bearer router: JWTs to issuers, opaque tokens to key managers, JWTs
// of unknown issuers to key managers only when the scheme asks for it.
func TestBearerRouting(t *testing.T) {
	jf := newJWTFixture(t)
	km := newKMFixture(t, nil)
	km2 := newKMFixture(t, func(c *authn.IntrospectionConfig) { c.Name = "second-km"; c.Timeout = 300 * time.Millisecond })
	jwtA := jf.jwt(t, []*authn.Issuer{jf.a})
	mk := func(cfg authn.BearerConfig) *authn.Bearer {
		b, err := authn.NewBearer("petsOAuth", cfg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	kms := []authn.KeyManager{km.km}
	both := mk(authn.BearerConfig{JWT: jwtA, KeyManagers: kms})
	bothJWTs := mk(authn.BearerConfig{JWT: jwtA, KeyManagers: kms, IntrospectJWTs: true})
	jwtOnly := mk(authn.BearerConfig{JWT: jwtA})
	kmOnly := mk(authn.BearerConfig{KeyManagers: kms})
	kmOnlyJWTs := mk(authn.BearerConfig{KeyManagers: kms, IntrospectJWTs: true})
	twoKMs := mk(authn.BearerConfig{KeyManagers: []authn.KeyManager{km2.km, km.km}})

	goodJWT := mint(t, jf.rsA, jf.claims(issA))
	otherJWT := mint(t, jf.rsB, jf.claims(issB)) // an issuer the scheme does not trust
	km.server.Set(otherJWT, map[string]any{"sub": "introspected-jwt", "exp": km.clock.Now().Add(time.Hour).Unix()})
	opaque := km.issue(nil)
	atSecond := km2.issue(map[string]any{"sub": "second"})

	tests := []struct {
		name    string
		b       *authn.Bearer
		header  string
		subject string       // ok: the identity's subject
		typ     string       // ok: the identity's type
		reason  authn.Reason // fail: the rejection
		noCreds bool         // fail: not presented
		failure bool         // fail: technical failure
		setup   func()
	}{
		{name: "ok/jwt-goes-to-issuers", b: both, header: "Bearer " + goodJWT, subject: "alice", typ: authn.TypeJWT},
		{name: "ok/opaque-goes-to-key-managers", b: both, header: "Bearer " + opaque, subject: "alice", typ: authn.TypeOpaqueToken},
		{name: "ok/key-manager-only-scheme", b: kmOnly, header: "Bearer " + opaque, subject: "alice", typ: authn.TypeOpaqueToken},
		{name: "ok/unknown-issuer-jwt-introspected-when-asked", b: bothJWTs, header: "Bearer " + otherJWT, subject: "introspected-jwt", typ: authn.TypeOpaqueToken},
		{name: "ok/jwt-introspected-on-key-manager-only-scheme", b: kmOnlyJWTs, header: "Bearer " + otherJWT, subject: "introspected-jwt", typ: authn.TypeOpaqueToken},
		{name: "ok/second-key-manager-knows-it", b: twoKMs, header: "Bearer " + opaque, subject: "alice", typ: authn.TypeOpaqueToken},
		{name: "ok/first-key-manager-knows-it", b: twoKMs, header: "Bearer " + atSecond, subject: "second", typ: authn.TypeOpaqueToken},
		{name: "fail/no-authorization", b: both, noCreds: true},
		{name: "fail/basic-is-not-ours", b: both, header: "Basic YWxpY2U6cHc=", noCreds: true},
		{name: "fail/opaque-without-key-managers-is-not-presented", b: jwtOnly, header: "Bearer " + opaque, noCreds: true},
		{name: "fail/unknown-issuer-jwt-not-introspected", b: both, header: "Bearer " + otherJWT, reason: authn.ReasonUnknownIssuer},
		{name: "fail/jwt-on-key-manager-only-scheme-is-not-presented", b: kmOnly, header: "Bearer " + otherJWT, noCreds: true},
		{name: "fail/trusted-jwt-on-key-manager-only-scheme-is-not-presented", b: kmOnly, header: "Bearer " + goodJWT, noCreds: true},
		{name: "fail/forged-jwt-on-key-manager-only-scheme-is-not-presented", b: kmOnly, header: "Bearer " + authntest.TamperSignature(goodJWT), noCreds: true},
		{name: "fail/bad-signature-never-introspected", b: bothJWTs, header: "Bearer " + authntest.TamperSignature(goodJWT), reason: authn.ReasonInvalidSignature},
		{name: "fail/jwe", b: kmOnlyJWTs, header: "Bearer " + authntest.FakeJWE(), reason: authn.ReasonUnsupportedCredential},
		{name: "fail/inactive", b: both, header: "Bearer never-issued", reason: authn.ReasonInactiveToken},
		{name: "fail/inactive-at-every-key-manager", b: twoKMs, header: "Bearer never-issued-either", reason: authn.ReasonInactiveToken},
		{name: "fail/not-token68", b: kmOnly, header: "Bearer a b", reason: authn.ReasonMalformed},
		{name: "fail/too-long", b: kmOnly, header: "Bearer " + strings.Repeat("a", authn.DefaultMaxTokenSize+1), reason: authn.ReasonMalformed},
		{
			name: "fail/one-key-manager-down-none-active", b: twoKMs, header: "Bearer unknown-while-down", failure: true,
			setup: func() { km2.server.SetMode(authntest.IntrospectUnavailable) },
		},
		{
			name: "ok/one-key-manager-down-another-active", b: twoKMs, header: "Bearer " + km.issue(map[string]any{"sub": "carol"}), subject: "carol", typ: authn.TypeOpaqueToken,
			setup: func() { km2.server.SetMode(authntest.IntrospectUnavailable) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			km2.server.SetMode(authntest.IntrospectOK)
			if tc.setup != nil {
				tc.setup()
			}
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			calls := km.server.Calls()
			id, err := tc.b.Authenticate(r)
			switch {
			case tc.noCreds:
				if !errors.Is(err, authn.ErrNoCredentials) {
					t.Fatalf("err = %v, want not presented", err)
				}
			case tc.failure:
				if err == nil || errors.Is(err, authn.ErrNoCredentials) || !errors.Is(err, authn.ErrKeyManagerUnavailable) {
					t.Fatalf("err = %v, want a technical failure", err)
				}
			case tc.reason != "":
				rej, ok := authn.AsRejection(err)
				if !ok || rej.Reason != tc.reason || rej.Scheme != "petsOAuth" {
					t.Fatalf("err = %v, want %s of petsOAuth", err, tc.reason)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if id.Subject != tc.subject || id.Type != tc.typ || id.Scheme != "petsOAuth" {
					t.Fatalf("identity = %v", id.Map())
				}
			}
			if tc.typ == authn.TypeJWT && km.server.Calls() != calls {
				t.Fatal("a JWT of a trusted issuer was introspected")
			}
			if tc.reason == authn.ReasonInvalidSignature && km.server.Calls() != calls {
				t.Fatal("a JWT with a bad signature was introspected")
			}
		})
	}
}

// One key manager serves two schemes: one call, one identity per scheme.
func TestBearerSharedKeyManager(t *testing.T) {
	km := newKMFixture(t, nil)
	a, _ := authn.NewBearer("a", authn.BearerConfig{KeyManagers: []authn.KeyManager{km.km}})
	b, _ := authn.NewBearer("b", authn.BearerConfig{KeyManagers: []authn.KeyManager{km.km}})
	tok := km.issue(nil)
	for _, tc := range []struct {
		name string
		auth *authn.Bearer
	}{{"ok/a", a}, {"ok/b", b}, {"ok/a-again", a}} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			id, err := tc.auth.Authenticate(r)
			if err != nil || id.Scheme != tc.auth.Scheme() {
				t.Fatalf("id = %v, err = %v", id, err)
			}
		})
	}
	if n := km.server.CallsFor(tok); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}

func TestNewBearerErrors(t *testing.T) {
	km := newKMFixture(t, nil)
	tests := []struct {
		name string
		cfg  authn.BearerConfig
	}{
		{"fail/nothing", authn.BearerConfig{}},
		{"fail/key-manager-twice", authn.BearerConfig{KeyManagers: []authn.KeyManager{km.km, km.km}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := authn.NewBearer("s", tc.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
