package jose_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/authn/jose"
)

func TestCheckJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"ok/object", `{"alg":"RS256","kid":"k1"}`, nil},
		{"ok/same-name-in-sibling-objects", `{"a":{"x":1},"b":{"x":2},"c":[{"x":1},{"x":1}]}`, nil},
		{"ok/name-equal-to-a-value", `{"a":"a","b":"a"}`, nil},
		{"ok/array-of-equal-strings", `["read","read"]`, nil},
		{"ok/escaped-surrogate-pair", `{"e":"\ud83d\ude00"}`, nil},
		{"ok/escaped-backslash-then-u", `{"p":"C:\\users"}`, nil},
		{"ok/scalar", `true`, nil},
		{"fail/duplicate-alg", `{"alg":"RS256","alg":"none"}`, jose.ErrDuplicateMember},
		{"fail/duplicate-sub-far-apart", `{"sub":"a","iss":"x","aud":["y"],"sub":"b"}`, jose.ErrDuplicateMember},
		{"fail/duplicate-after-unescaping", `{"alg":"RS256","\u0061lg":"none"}`, jose.ErrDuplicateMember},
		{"fail/duplicate-nested", `{"cnf":{"x5t#S256":"a","x5t#S256":"b"}}`, jose.ErrDuplicateMember},
		{"fail/duplicate-in-array-of-objects", `{"keys":[{"kid":"1"},{"kid":"2","kty":"RSA","kty":"EC"}]}`, jose.ErrDuplicateMember},
		{"fail/duplicate-active", `{"active":false,"sub":"x","active":true}`, jose.ErrDuplicateMember},
		{"fail/invalid-utf8", "{\"sub\":\"a\xffb\"}", jose.ErrInvalidUTF8},
		{"fail/overlong-utf8", "{\"sub\":\"\xc0\xaf\"}", jose.ErrInvalidUTF8},
		{"fail/lone-high-surrogate", `{"sub":"\ud800"}`, jose.ErrInvalidUTF8},
		{"fail/lone-low-surrogate", `{"sub":"\udc00x"}`, jose.ErrInvalidUTF8},
		{"fail/high-then-not-low", `{"sub":"\ud800\u0041"}`, jose.ErrInvalidUTF8},
		{"fail/trailing-data", `{"a":1}{"a":2}`, jose.ErrInvalidJSON},
		{"fail/truncated", `{"a":1`, jose.ErrInvalidJSON},
		{"fail/empty", ``, jose.ErrInvalidJSON},
		{"fail/too-deep", string(bytes.Repeat([]byte("["), 100)) + string(bytes.Repeat([]byte("]"), 100)), jose.ErrInvalidJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := jose.CheckJSON([]byte(tc.in))
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("CheckJSON(%q) = %v, want %v", tc.in, err, tc.want)
			}
		})
	}
}

// FuzzCheckJSON: the duplicate-member detector never panics; what it
// accepts is valid UTF-8 JSON that survives a decode/encode round trip; and
// adding a second copy of an accepted object's first member is refused.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{
		`{"alg":"RS256","typ":"JWT"}`, `{"a":{"b":[1,{"c":2}]},"d":"\u00e9"}`, `{"alg":"RS256","alg":"none"}`,
		`{"keys":[{"kty":"RSA","n":"AQ","e":"AQAB"}]}`, `[1,"x",null,true,{"":0}]`, `{"s":"\ud83d\ude00"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := jose.CheckJSON(b)
		if ref := referenceCheckJSON(b); (err == nil) != (ref == nil) {
			t.Fatalf("CheckJSON(%q) = %v, the decoder-based reference says %v", b, err, ref)
		}
		if err != nil {
			return
		}
		if !json.Valid(b) || !utf8.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("accepted %q that does not decode: %v", b, err)
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := jose.CheckJSON(out); err != nil {
			t.Fatalf("re-encoded %q refused: %v", out, err)
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			return
		}
		// The accepted object's first member, once more in front.
		dec := json.NewDecoder(bytes.NewReader(b))
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		name, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		key, _ := json.Marshal(name)
		i := bytes.IndexByte(b, '{')
		dup := append(append(append([]byte("{"), key...), ":0,"...), b[i+1:]...)
		if err := jose.CheckJSON(dup); !errors.Is(err, jose.ErrDuplicateMember) {
			t.Fatalf("duplicate %q of %q: %v", name, dup, err)
		}
	})
}

// referenceCheckJSON is CheckJSON's first implementation, on encoding/json's
// token stream (slow: ~140 allocations per token), kept as the reference
// FuzzCheckJSON compares the in-place scanner with: both must accept and
// refuse the same documents.
func referenceCheckJSON(b []byte) error {
	if !utf8.Valid(b) {
		return jose.ErrInvalidUTF8
	}
	if !jose.CheckJSONEscapes(b) {
		return jose.ErrInvalidUTF8
	}
	type level struct {
		names     map[string]struct{}
		expectKey bool
	}
	var stack []level
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].names != nil {
			stack[n-1].expectKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	started := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if !started || len(stack) > 0 {
				return jose.ErrInvalidJSON
			}
			return nil
		}
		if err != nil || started && len(stack) == 0 {
			return jose.ErrInvalidJSON
		}
		started = true
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if len(stack) == 64 {
					return jose.ErrInvalidJSON
				}
				if n := len(stack); n > 0 && stack[n-1].names != nil {
					stack[n-1].expectKey = false
				}
				l := level{}
				if v == '{' {
					l = level{names: map[string]struct{}{}, expectKey: true}
				}
				stack = append(stack, l)
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			top := len(stack) - 1
			if top >= 0 && stack[top].names != nil && stack[top].expectKey {
				if _, dup := stack[top].names[v]; dup {
					return jose.ErrDuplicateMember
				}
				stack[top].names[v] = struct{}{}
				stack[top].expectKey = false
				continue
			}
			valueDone()
		default:
			valueDone()
		}
	}
}
