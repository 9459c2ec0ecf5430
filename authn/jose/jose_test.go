package jose_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authn/jose"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		in   string
		kind jose.Kind
	}{
		{name: "ok/jws", in: "eyJh.eyJp.c2ln", kind: jose.JWS},
		{name: "ok/empty-signature", in: "eyJh.eyJp.", kind: jose.JWS},
		{name: "ok/google-style-shape", in: "ya29.a0Af.x", kind: jose.JWS},
		{name: "opaque", in: "2YotnFZFEjr1zCsicMWpAA", kind: jose.NotJWS},
		{name: "opaque-with-symbols", in: "abc~+/=", kind: jose.NotJWS},
		{name: "opaque-one-dot", in: "ya29.a0AfH6SMBx", kind: jose.NotJWS},
		{name: "jwe", in: "a.b.c.d.e", kind: jose.JWE},
		{name: "jwe-empty-key", in: "a..c.d.e", kind: jose.JWE},
		{name: "fail/empty", in: "", kind: jose.NotJWS},
		{name: "fail/one-dot", in: "a.b", kind: jose.NotJWS},
		{name: "fail/three-dots", in: "a.b.c.d", kind: jose.NotJWS},
		{name: "fail/all-dots", in: "..", kind: jose.NotJWS},
		{name: "fail/empty-header", in: ".eyJp.c2ln", kind: jose.NotJWS},
		{name: "fail/empty-payload", in: "eyJh..c2ln", kind: jose.NotJWS},
		{name: "fail/padding", in: "eyJh.eyJp.c2ln==", kind: jose.NotJWS},
		{name: "fail/std-alphabet", in: "eyJh.ey+p.c2ln", kind: jose.NotJWS},
		{name: "fail/jwe-bad-chars", in: "a.b.c.d.e=", kind: jose.NotJWS},
		{name: "fail/many-dots", in: strings.Repeat(".", 100), kind: jose.NotJWS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, kind := jose.Split([]byte(tc.in))
			if kind != tc.kind {
				t.Fatalf("kind = %d, want %d", kind, tc.kind)
			}
			if kind == jose.JWS {
				if got := string(p.Header) + "." + string(p.Payload) + "." + string(p.Signature); got != tc.in {
					t.Fatalf("parts reassemble to %q", got)
				}
			}
		})
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL2EuZXhhbXBsZS8iLCJleHAiOjE4MDAwMDAwMDB9.c2lnbmF0dXJl",
		"eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.",
		"a.b.c.d.e",
		"..",
		"....",
		"opaque-token",
		"",
		"eyJh.eyJp.c2ln==",
		"e30.e30.e30",
		"bnVsbA.bnVsbA.",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, tok []byte) {
		orig := bytes.Clone(tok)
		p, kind := jose.Split(tok)
		if !bytes.Equal(orig, tok) {
			t.Fatal("Split modified its input")
		}
		dots := bytes.Count(tok, []byte{'.'})
		switch kind {
		case jose.JWE:
			if dots != 4 {
				t.Fatalf("JWE with %d dots", dots)
			}
			return
		case jose.NotJWS:
			return
		}
		if dots != 2 || len(p.Header) == 0 || len(p.Payload) == 0 {
			t.Fatalf("bad JWS split of %q", tok)
		}
		joined := bytes.Join([][]byte{p.Header, p.Payload, p.Signature}, []byte{'.'})
		if !bytes.Equal(joined, tok) {
			t.Fatalf("round trip: %q != %q", joined, tok)
		}
		if !bytes.Equal(p.SigningInput, tok[:len(p.Header)+1+len(p.Payload)]) {
			t.Fatal("signing input is not header.payload")
		}
		for _, part := range [][]byte{p.Header, p.Payload, p.Signature} {
			for _, c := range part {
				if !jose.IsBase64URLChar(c) {
					t.Fatalf("part %q has %q", part, c)
				}
			}
		}
		// The decoders must never panic on what the splitter lets through.
		_, _ = jose.DecodeHeader(p.Header)
		_, _ = jose.DecodeClaims(p.Payload)
	})
}

func TestDecodeClaimsStrict(t *testing.T) {
	for name, tc := range map[string]struct {
		json string
		ok   bool
	}{
		"object":         {`{"a":1}`, true},
		"trailing-data":  {`{"a":1} {"b":2}`, false},
		"trailing-space": {`{"a":1}  `, true},
		"array":          {`[1]`, false},
		"null":           {`null`, false},
		"string":         {`"x"`, false},
		"truncated":      {`{"a":`, false},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := jose.DecodeClaims([]byte(b64Encode(tc.json)))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
		})
	}
	m, err := jose.DecodeClaims([]byte(b64Encode(`{"iss":"a","ISS":"b"}`)))
	if err != nil || m["iss"] != "a" || m["ISS"] != "b" {
		t.Fatalf("member names must be exact: %v %v", m, err)
	}
	h, err := jose.DecodeHeader([]byte(b64Encode(`{"alg":"RS256","ALG":"none","Kid":"x"}`)))
	if err != nil || h.Alg != "RS256" || h.Kid != "" {
		t.Fatalf("header member names must be exact: %+v %v", h, err)
	}
}

func b64Encode(s string) string { return jose.EncodeSegment([]byte(s)) }
