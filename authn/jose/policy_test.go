package jose_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authn/jose"
)

func seg(s string) string { return jose.EncodeSegment([]byte(s)) }

// token builds a compact JWS from a raw header and payload, with a dummy
// signature: Parse never looks at the signature.
func token(header, payload string) []byte {
	return []byte(seg(header) + "." + seg(payload) + ".c2ln")
}

func TestPolicyParse(t *testing.T) {
	apiKeys := &jose.Policy{Algorithms: []string{"ES256"}, Typ: "gatehouse-apikey+jwt", TypDetail: "not an API key (typ)"}
	anyTyp := &jose.Policy{Algorithms: []string{"ES256", "RS256"}}
	tests := []struct {
		name    string
		policy  *jose.Policy
		token   []byte
		wantErr error        // a sentinel, or
		failure jose.Failure // a jose.Error of this kind
		detail  string
	}{
		{name: "ok/any-typ", policy: anyTyp, token: token(`{"alg":"RS256","kid":"k1"}`, `{"iss":"a"}`)},
		{name: "ok/typ-normalized", policy: apiKeys, token: token(`{"alg":"ES256","typ":"application/Gatehouse-APIKey+JWT"}`, `{}`)},
		{name: "not-jws/opaque", policy: anyTyp, token: []byte("2YotnFZFEjr1zCsicMWpAA"), wantErr: jose.ErrNotJWS},
		{name: "not-jose/header-array", policy: anyTyp, token: token(`[1]`, `{}`), wantErr: jose.ErrNotJOSE},
		{name: "not-jose/no-alg", policy: anyTyp, token: token(`{"typ":"JWT"}`, `{}`), wantErr: jose.ErrNotJOSE},
		{name: "fail/jwe", policy: anyTyp, token: []byte("a.b.c.d.e"), failure: jose.Unsupported, detail: "encrypted tokens (JWE) are not supported"},
		{name: "fail/alg-not-string", policy: anyTyp, token: token(`{"alg":1}`, `{}`), failure: jose.Malformed},
		{name: "fail/kid-not-string", policy: anyTyp, token: token(`{"alg":"RS256","kid":{}}`, `{}`), failure: jose.Malformed},
		{name: "fail/alg-empty", policy: anyTyp, token: token(`{"alg":""}`, `{}`), failure: jose.Malformed, detail: "header has no alg"},
		{name: "fail/alg-none", policy: anyTyp, token: token(`{"alg":"none"}`, `{}`), failure: jose.AlgorithmNotAllowed},
		{name: "fail/alg-case", policy: anyTyp, token: token(`{"alg":"rs256"}`, `{}`), failure: jose.AlgorithmNotAllowed},
		{name: "fail/alg-not-allowed", policy: apiKeys, token: token(`{"alg":"RS256","typ":"gatehouse-apikey+jwt"}`, `{}`), failure: jose.AlgorithmNotAllowed},
		{name: "fail/crit", policy: anyTyp, token: token(`{"alg":"RS256","crit":["exp"]}`, `{}`), failure: jose.Unsupported},
		{name: "fail/b64", policy: anyTyp, token: token(`{"alg":"RS256","b64":false}`, `{}`), failure: jose.Malformed},
		{name: "fail/crit-before-typ", policy: apiKeys, token: token(`{"alg":"ES256","crit":[]}`, `{}`), failure: jose.Unsupported},
		{name: "fail/typ-missing", policy: apiKeys, token: token(`{"alg":"ES256"}`, `{}`), failure: jose.WrongType, detail: "not an API key (typ)"},
		{name: "fail/typ-other", policy: apiKeys, token: token(`{"alg":"ES256","typ":"JWT"}`, `{}`), failure: jose.WrongType},
		{name: "fail/claims-array", policy: anyTyp, token: token(`{"alg":"RS256"}`, `[]`), failure: jose.Malformed, detail: "claims are not a JSON object"},
		{name: "fail/claims-trailing", policy: anyTyp, token: token(`{"alg":"RS256"}`, `{}{}`), failure: jose.Malformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := tc.policy.Parse(tc.token)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			case tc.failure != 0:
				var je *jose.Error
				if !errors.As(err, &je) || je.Failure != tc.failure {
					t.Fatalf("err = %#v, want failure %d", err, tc.failure)
				}
				if tc.detail != "" && je.Detail != tc.detail {
					t.Fatalf("detail = %q, want %q", je.Detail, tc.detail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tok.Header.Alg == "" || tok.Claims == nil {
				t.Fatalf("token = %+v", tok)
			}
		})
	}
}

// Header members the fields do not cover stay readable, by exact name.
func TestHeaderMember(t *testing.T) {
	h, err := jose.DecodeHeader([]byte(seg(`{"alg":"ES256","jwk":{"kty":"EC"},"JWK":1}`)))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := h.Member("jwk"); !ok || !strings.Contains(string(v), "EC") {
		t.Fatalf("jwk = %s, %v", v, ok)
	}
	if _, ok := h.Member("x5u"); ok {
		t.Fatal("absent member reported present")
	}
}

func TestNormalizeTyp(t *testing.T) {
	for in, want := range map[string]string{"JWT": "jwt", "application/at+JWT": "at+jwt", "": "", "Application/jwt": "jwt"} {
		if got := jose.NormalizeTyp(in); got != want {
			t.Errorf("NormalizeTyp(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParse: whatever the token, Parse either fails with one of its
// documented errors or returns a token whose header passed the policy.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		string(token(`{"alg":"ES256","typ":"JWT"}`, `{"iss":"a","exp":1}`)),
		string(token(`{"alg":"ES256","crit":["x"]}`, `{}`)),
		string(token(`{"alg":"ES256","alg":"none"}`, `{}`)),
		"a.b.c.d.e", "..", "e30.e30.e30",
	} {
		f.Add([]byte(s))
	}
	p := &jose.Policy{Algorithms: []string{"ES256"}, Typ: "jwt"}
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := p.Parse(b)
		if err != nil {
			var je *jose.Error
			if !errors.Is(err, jose.ErrNotJWS) && !errors.Is(err, jose.ErrNotJOSE) && !errors.As(err, &je) {
				t.Fatalf("undocumented error %T %v", err, err)
			}
			return
		}
		if tok.Header.Alg != "ES256" || tok.Header.Crit || tok.Header.B64 || jose.NormalizeTyp(tok.Header.Typ) != "jwt" || tok.Claims == nil {
			t.Fatalf("accepted %+v", tok.Header)
		}
		if jose.VerifySignature(tok.Parts, nil, "ES256") == nil {
			t.Fatal("a signature verified without a key")
		}
	})
}
