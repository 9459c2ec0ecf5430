package authn_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/authn"
)

// FuzzQueryParams: any raw query parses without panicking, and a skipped
// name (an API key parameter) is never yielded, however it is encoded.
func FuzzQueryParams(f *testing.F) {
	for _, s := range []string{"api_key=x&a=1", "api%5Fkey=x", "a=%zz&&b", "+=+", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		authn.QueryParams(raw, []string{"api_key"}, func(name, _ string) {
			if name == "api_key" {
				t.Fatalf("skipped name yielded from %q", raw)
			}
		})
	})
}
