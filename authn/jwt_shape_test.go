package authn_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

// What counts as a JWT: exactly two dots, three base64url parts, and a first
// part that decodes to a JSON object with "alg". Every other token68 is not
// this authenticator's (ErrNotJWT, for key managers); a JWE is rejected;
// anything that is not a token68 is malformed.
func TestJWTTokenShapes(t *testing.T) {
	f := newJWTFixture(t)
	j := f.jwt(t, []*authn.Issuer{f.a})
	good := mint(t, f.rsA, f.claims(issA))
	hdr := func(h map[string]any) string {
		return strings.SplitN(authntest.RawToken(h, f.claims(issA), []byte("sig")), ".", 2)[0]
	}
	tests := []struct {
		name    string
		token   string
		wantErr error        // ErrNotJWT
		reason  authn.Reason // or a rejection
	}{
		{name: "ok/jws", token: good},
		{name: "not-jwt/opaque", token: "2YotnFZFEjr1zCsicMWpAA", wantErr: authn.ErrNotJWT},
		{name: "not-jwt/google-one-dot", token: "ya29.a0AfH6SMBx-example_token", wantErr: authn.ErrNotJWT},
		{name: "not-jwt/google-two-dots-not-json", token: "ya29.a0AfH6SMBx.example", wantErr: authn.ErrNotJWT},
		{name: "not-jwt/token68-symbols", token: "abc~+/def==", wantErr: authn.ErrNotJWT},
		{name: "not-jwt/three-dots", token: "a.b.c.d", wantErr: authn.ErrNotJWT},
		{name: "not-jwt/all-dots", token: "..", wantErr: authn.ErrNotJWT},
		{name: "not-jwt/empty-header", token: "." + strings.SplitN(good, ".", 2)[1], wantErr: authn.ErrNotJWT},
		{name: "not-jwt/header-json-array", token: b64("[1]") + ".eyJp.c2ln", wantErr: authn.ErrNotJWT},
		{name: "not-jwt/header-json-null", token: b64("null") + ".eyJp.c2ln", wantErr: authn.ErrNotJWT},
		{name: "not-jwt/header-object-without-alg", token: hdr(map[string]any{"typ": "JWT"}) + ".eyJp.c2ln", wantErr: authn.ErrNotJWT},
		{name: "not-jwt/padded", token: good + "=", wantErr: authn.ErrNotJWT},
		{name: "fail/jwe", token: authntest.FakeJWE(), reason: authn.ReasonUnsupportedCredential},
		{name: "fail/alg-not-string", token: hdr(map[string]any{"alg": 1}) + ".eyJp.c2ln", reason: authn.ReasonMalformed},
		{name: "fail/alg-empty", token: hdr(map[string]any{"alg": ""}) + ".eyJp.c2ln", reason: authn.ReasonMalformed},
		{name: "fail/payload-not-json", token: hdr(map[string]any{"alg": "RS256", "kid": "a-rs"}) + ".bm90.c2ln", reason: authn.ReasonMalformed},
		{name: "fail/not-token68-space", token: "abc def", reason: authn.ReasonMalformed},
		{name: "fail/not-token68-bang", token: "abc!", reason: authn.ReasonMalformed},
		{name: "fail/not-token68-inner-equals", token: "ab=c", reason: authn.ReasonMalformed},
		{name: "fail/empty", token: "", reason: authn.ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := j.Verify(context.Background(), tc.token)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) || !errors.Is(err, authn.ErrNoCredentials) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			case tc.reason != "":
				rej, ok := authn.AsRejection(err)
				if !ok || rej.Reason != tc.reason {
					t.Fatalf("err = %v, want rejection %s", err, tc.reason)
				}
			default:
				if err != nil || id == nil {
					t.Fatalf("err = %v", err)
				}
			}
		})
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
