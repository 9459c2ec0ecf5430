package ratelimit

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzCredentialKey: any Authorization or API-key value gives a stable key
// that never contains the credential.
func FuzzCredentialKey(f *testing.F) {
	f.Add("Basic YWxpY2U6cHc=", "")
	f.Add("Bearer a.b.c", "key")
	f.Add("", "\x00")
	var apiKeyHeaders []string // as the fuzzed operation had: none compiled
	f.Fuzz(func(t *testing.T, authz, key string) {
		r := &http.Request{Header: http.Header{}}
		if authz != "" {
			r.Header["Authorization"] = []string{authz}
		}
		if key != "" {
			r.Header["X-Api-Key"] = []string{key}
		}
		k1, k2 := credentialKey(r, apiKeyHeaders), credentialKey(r, apiKeyHeaders)
		if k1 != k2 {
			t.Fatalf("unstable key")
		}
		if len(authz) > 8 && strings.Contains(k1, authz) || len(key) > 8 && strings.Contains(k1, key) {
			t.Fatalf("key %q carries the credential", k1)
		}
	})
}
