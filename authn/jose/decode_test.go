package jose

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

var decodeSeeds = []string{
	`{"iss":"https://idp.example","sub":"user-1","aud":["a","b"],"exp":1893456000,"scope":"read:items write:items","cnf":{"jkt":"abc"}}`,
	`{"alg":"RS256","kid":"k1","typ":"JWT"}`,
	` { "a" : [ 1 , -2.5e+3 , true , false , null , { } , [ ] ] , "b" : "\u00e9\n\"\\\/" } `,
	`{"big":123456789012345678901234567890,"neg":-0,"f":1E-7}`,
	`{"dup":1,"dup":{"x":2}}`,
	`"\ud83d\ude00"`,
	"{\"bad\":\"\xff\xfe\"}",
	`[]`, `null`, `12`, `{"alg":null,"kid":3}`,
}

// FuzzDecodeValue: on every document json.Valid accepts, decodeValue
// yields what encoding/json's Decoder with UseNumber yields, and
// decodeMembers what json.Unmarshal into a map[string]json.RawMessage
// yields; memberString reads a member as json.Unmarshal into a *string
// does.
func FuzzDecodeValue(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		got, err := decodeValue(b)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeValue(%q) = %#v, %v; encoding/json: %#v", b, got, err, want)
		}

		var wantM map[string]json.RawMessage
		wantErr := json.Unmarshal(b, &wantM)
		gotM, ok := decodeMembers(b)
		if (wantErr == nil && wantM != nil) != ok {
			t.Fatalf("decodeMembers(%q) ok=%v; encoding/json: %v, %v", b, ok, wantM, wantErr)
		}
		if !ok {
			return
		}
		if len(gotM) != len(wantM) {
			t.Fatalf("decodeMembers(%q) = %q; encoding/json: %q", b, gotM, wantM)
		}
		for k, v := range wantM {
			if !bytes.Equal(gotM[k], v) {
				t.Fatalf("member %q: %q; encoding/json: %q", k, gotM[k], v)
			}
			var ws string
			wok := json.Unmarshal(v, &ws) == nil
			var gs string
			if gok := memberString(gotM, k, &gs); gok != wok || gs != ws {
				t.Fatalf("memberString(%q) = %q, %v; encoding/json: %q, %v", v, gs, gok, ws, wok)
			}
		}
	})
}

func BenchmarkDecodeClaims(b *testing.B) {
	seg := []byte(EncodeSegment([]byte(decodeSeeds[0])))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeClaims(seg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeHeader(b *testing.B) {
	seg := []byte(EncodeSegment([]byte(decodeSeeds[1])))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeHeader(seg); err != nil {
			b.Fatal(err)
		}
	}
}
