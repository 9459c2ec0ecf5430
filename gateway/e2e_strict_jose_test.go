package gateway_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// The JOSE and key-set classes of issue 15 through the real server: duplicate
// members, invalid UTF-8 and lone surrogates in a token's header or claims
// (401 malformed), scope arrays whose elements hold spaces (one scope each,
// never split), and key sets that publish private keys (that key refused).

func TestStrictJOSE(t *testing.T) {
	e := hostileEnv(t)
	now := time.Now().Unix()
	claims := func(extra string) string {
		return fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"alice","iat":%d,"nbf":%d,"exp":%d,"client_id":"app-1"%s}`,
			testIssuer, testAudience, now, now, now+3600, extra)
	}
	header := `{"alg":"RS256","kid":"k1","typ":"JWT"}`
	mint := func(h, c string) string {
		tok, err := e.signer.MintJSON(h, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	const invalid = `Bearer realm="shapes", error="invalid_token"`
	tests := []struct {
		name, token string
		status      int
		challenge   string
	}{
		{"ok/well-formed", mint(header, claims(`,"scope":"read"`)), 200, ""},
		{"fail/duplicate-sub", mint(header, claims(`,"scope":"read","sub":"admin"`)), 401, invalid},
		{"fail/duplicate-scope", mint(header, claims(`,"scope":"none","scope":"read"`)), 401, invalid},
		{"fail/duplicate-nested-member", mint(header, claims(`,"scope":"read","cnf":{"x5t#S256":"a","x5t#S256":"b"}`)), 401, invalid},
		{"fail/duplicate-alg-in-header", mint(`{"alg":"RS256","kid":"k1","typ":"JWT","alg":"none"}`, claims(`,"scope":"read"`)), 401, invalid},
		{"fail/duplicate-kid-in-header", mint(`{"alg":"RS256","kid":"k1","typ":"JWT","kid":"k2"}`, claims(`,"scope":"read"`)), 401, invalid},
		{"fail/escaped-duplicate-in-header", mint(`{"alg":"RS256","kid":"k1","typ":"JWT","\u0074yp":"dpop+jwt"}`, claims(`,"scope":"read"`)), 401, invalid},
		{"fail/invalid-utf8-claim", mint(header, claims(",\"scope\":\"read\",\"name\":\"a\xffb\"")), 401, invalid},
		{"fail/lone-surrogate-claim", mint(header, claims(`,"scope":"read","name":"\ud800"`)), 401, invalid},
		// Explicit typing: without an allow-list, only absent, JWT and
		// at+jwt pass for an access token.
		{"ok/typ-absent", mint(`{"alg":"RS256","kid":"k1"}`, claims(`,"scope":"read"`)), 200, ""},
		{"ok/typ-at+jwt", mint(`{"alg":"RS256","kid":"k1","typ":"at+jwt"}`, claims(`,"scope":"read"`)), 200, ""},
		{"ok/typ-application-at+jwt", mint(`{"alg":"RS256","kid":"k1","typ":"application/AT+JWT"}`, claims(`,"scope":"read"`)), 200, ""},
		{"fail/typ-dpop-proof", mint(`{"alg":"RS256","kid":"k1","typ":"dpop+jwt"}`, claims(`,"scope":"read"`)), 401, invalid},
		{"fail/typ-logout-token", mint(`{"alg":"RS256","kid":"k1","typ":"logout+jwt"}`, claims(`,"scope":"read"`)), 401, invalid},
		{"fail/typ-security-event", mint(`{"alg":"RS256","kid":"k1","typ":"secevent+jwt"}`, claims(`,"scope":"read"`)), 401, invalid},
		{"fail/typ-id-token", mint(`{"alg":"RS256","kid":"k1","typ":"id_token+jwt"}`, claims(`,"scope":"read"`)), 401, invalid},
		// max_lifetime defaults to 24h.
		{"ok/lifetime-24h", mint(header, fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"alice","iat":%d,"exp":%d,"scope":"read"}`,
			testIssuer, testAudience, now, now+24*3600)), 200, ""},
		{"fail/lifetime-ten-years", mint(header, fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"alice","iat":%d,"exp":%d,"scope":"read"}`,
			testIssuer, testAudience, now, now+10*365*24*3600)), 401, invalid},
		{"ok/scope-array-elements", mint(header, claims(`,"scp":["read"]`)), 200, ""},
		{"fail/scope-array-element-with-space-not-split", mint(header, claims(`,"scp":["write read"]`)), 403,
			`Bearer realm="shapes", error="insufficient_scope", scope="read"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.upstream.count()
			resp := e.do("GET", "/shapes/single", bearer(tc.token))
			if resp.status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.status, tc.status, resp.body)
			}
			if called := e.upstream.count() > before; called != (tc.status == 200) {
				t.Fatalf("upstream called = %v", called)
			}
			if tc.challenge != "" {
				if got := strings.Join(resp.header.Values("WWW-Authenticate"), " | "); got != tc.challenge {
					t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
				}
			}
		})
	}
	logs := e.logs.String()
	for _, want := range []string{"claims have a duplicate member", "header has a duplicate member", "claims are not valid UTF-8",
		"typ header marks another kind of JWT", "token lifetime exceeds the issuer's max lifetime"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no rejection logged as %q", want)
		}
	}
}

// TestStrictJWKSPrivateKeys: a key set member with private parts (d, p, q)
// is refused and logged; the set's other keys keep working.
func TestStrictJWKSPrivateKeys(t *testing.T) {
	signer := authntest.Must(authntest.NewSigner("RS256", authntest.WithKID("k1")))
	other := authntest.Must(authntest.NewSigner("ES256", authntest.WithKID("k2")))
	priv := authntest.Must(signer.PrivateJWK())
	b, _ := json.Marshal(priv)
	var pm map[string]any
	_ = json.Unmarshal(b, &pm)
	pm["kid"], pm["use"], pm["alg"] = "k1", "sig", "RS256"
	set := authntest.Must(authntest.JWKSFromMaps(pm, authntest.Must(other.JWKMap())))
	e := newEnv(t, envOptions{config: coreConfig, files: map[string]string{
		"shapes.yaml": shapesDoc, "bare.yaml": bareDoc,
		"bundle/.manifest": `{"revision": "jwks", "roots": ["gatehouse/revocations"]}`,
		"bundle/data.json": `{"gatehouse": {"revocations": {"jti": {}}}}`,
		"issuer.jwks":      string(set),
	}})
	mint := func(s *authntest.Signer) string {
		c := authntest.Claims(testIssuer, testAudience, time.Now(), time.Hour)
		c["scope"] = "read"
		return authntest.Must(s.Mint(c))
	}
	if resp := e.do("GET", "/shapes/single", bearer(mint(signer))); resp.status != 401 {
		t.Fatalf("token of the published private key: status %d, want 401", resp.status)
	}
	if resp := e.do("GET", "/shapes/single", bearer(mint(other))); resp.status != 200 {
		t.Fatalf("token of the set's public key: status %d, want 200", resp.status)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "key holds private key material") {
		t.Error("the refused key is not logged")
	}
	for _, secret := range []string{pm["d"].(string), pm["p"].(string)} {
		if strings.Contains(logs, secret) {
			t.Fatal("private key material reached the logs")
		}
	}
}
