package authn

import (
	"bytes"
	"strings"
	"testing"
)

func TestSplitJWT(t *testing.T) {
	tests := []struct {
		name string
		in   string
		kind tokenKind
	}{
		{name: "ok/jws", in: "eyJh.eyJp.c2ln", kind: kindJWS},
		{name: "ok/empty-signature", in: "eyJh.eyJp.", kind: kindJWS},
		{name: "ok/google-style-shape", in: "ya29.a0Af.x", kind: kindJWS},
		{name: "opaque", in: "2YotnFZFEjr1zCsicMWpAA", kind: kindNotJWS},
		{name: "opaque-with-symbols", in: "abc~+/=", kind: kindNotJWS},
		{name: "opaque-one-dot", in: "ya29.a0AfH6SMBx", kind: kindNotJWS},
		{name: "jwe", in: "a.b.c.d.e", kind: kindJWE},
		{name: "jwe-empty-key", in: "a..c.d.e", kind: kindJWE},
		{name: "fail/empty", in: "", kind: kindNotJWS},
		{name: "fail/one-dot", in: "a.b", kind: kindNotJWS},
		{name: "fail/three-dots", in: "a.b.c.d", kind: kindNotJWS},
		{name: "fail/all-dots", in: "..", kind: kindNotJWS},
		{name: "fail/empty-header", in: ".eyJp.c2ln", kind: kindNotJWS},
		{name: "fail/empty-payload", in: "eyJh..c2ln", kind: kindNotJWS},
		{name: "fail/padding", in: "eyJh.eyJp.c2ln==", kind: kindNotJWS},
		{name: "fail/std-alphabet", in: "eyJh.ey+p.c2ln", kind: kindNotJWS},
		{name: "fail/jwe-bad-chars", in: "a.b.c.d.e=", kind: kindNotJWS},
		{name: "fail/many-dots", in: strings.Repeat(".", 100), kind: kindNotJWS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, kind := splitJWT([]byte(tc.in))
			if kind != tc.kind {
				t.Fatalf("kind = %d, want %d", kind, tc.kind)
			}
			if kind == kindJWS {
				if got := string(p.header) + "." + string(p.payload) + "." + string(p.signature); got != tc.in {
					t.Fatalf("parts reassemble to %q", got)
				}
			}
		})
	}
}

func FuzzSplitJWT(f *testing.F) {
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
		p, kind := splitJWT(tok)
		if !bytes.Equal(orig, tok) {
			t.Fatal("splitJWT modified its input")
		}
		dots := bytes.Count(tok, []byte{'.'})
		switch kind {
		case kindJWE:
			if dots != 4 {
				t.Fatalf("JWE with %d dots", dots)
			}
			return
		case kindNotJWS:
			return
		}
		if dots != 2 || len(p.header) == 0 || len(p.payload) == 0 {
			t.Fatalf("bad JWS split of %q", tok)
		}
		joined := bytes.Join([][]byte{p.header, p.payload, p.signature}, []byte{'.'})
		if !bytes.Equal(joined, tok) {
			t.Fatalf("round trip: %q != %q", joined, tok)
		}
		if !bytes.Equal(p.signingInput, tok[:len(p.header)+1+len(p.payload)]) {
			t.Fatal("signing input is not header.payload")
		}
		for _, part := range [][]byte{p.header, p.payload, p.signature} {
			for _, c := range part {
				if !isBase64URLChar(c) {
					t.Fatalf("part %q has %q", part, c)
				}
			}
		}
		// The decoders must never panic on what the splitter lets through.
		_, _ = decodeHeader(p.header)
		_, _ = decodeClaims(p.payload)
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
			_, err := decodeClaims([]byte(b64Encode(tc.json)))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
		})
	}
	m, err := decodeClaims([]byte(b64Encode(`{"iss":"a","ISS":"b"}`)))
	if err != nil || m["iss"] != "a" || m["ISS"] != "b" {
		t.Fatalf("member names must be exact: %v %v", m, err)
	}
	h, err := decodeHeader([]byte(b64Encode(`{"alg":"RS256","ALG":"none","Kid":"x"}`)))
	if err != nil || h.alg != "RS256" || h.kid != "" {
		t.Fatalf("header member names must be exact: %+v %v", h, err)
	}
}

func b64Encode(s string) string { return b64Enc.EncodeToString([]byte(s)) }
