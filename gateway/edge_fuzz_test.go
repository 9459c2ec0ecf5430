package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// A fuzz target for cookie stripping, a parser of untrusted input (the
// policy input's is gateway/pipeline/input_fuzz_test.go).

// FuzzStripCookies: named cookies never survive, whatever the header holds.
func FuzzStripCookies(f *testing.F) {
	f.Add("a=1; key=secret; b=2", "key")
	f.Add("key=;;key=x;=", "key")
	f.Fuzz(func(t *testing.T, line, name string) {
		h := http.Header{"Cookie": {line}}
		stripCookies(h, []string{name})
		for _, l := range h.Values("Cookie") {
			for _, part := range strings.Split(l, ";") {
				n, _, _ := strings.Cut(strings.TrimSpace(part), "=")
				if n == name && name != "" {
					t.Fatalf("cookie %q survived in %q", name, l)
				}
			}
		}
	})
}
