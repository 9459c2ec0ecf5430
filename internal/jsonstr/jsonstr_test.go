package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzAppend: with html, Append writes exactly what encoding/json writes
// for a string; without, what encoding/json writes with SetEscapeHTML(false).
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s/", "\x00\x01\b\f\n\r\t\x1f", "<a>&</a>", "\u2028\u2029é😀", "\xff\xfe bad", "mixed\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, html := range []bool{true, false} {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(html)
			if err := enc.Encode(s); err != nil {
				t.Fatal(err)
			}
			w := bytes.TrimSuffix(want.Bytes(), []byte("\n"))
			if got := Append(nil, s, html); !bytes.Equal(got, w) {
				t.Fatalf("Append(%q, html=%v) = %s, encoding/json: %s", s, html, got, w)
			}
		}
	})
}
