package authn

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// TestCredentialID: the log-safe id is the first 12 hex digits of the
// credential's SHA-256, whatever its length (CacheKeyOf hashes long
// credentials through a 256-byte buffer).
func TestCredentialID(t *testing.T) {
	for _, tc := range []struct{ name, raw string }{
		{"abc", "abc"},
		{"empty", ""},
		{"buffer-sized", strings.Repeat("a", 256)},
		{"token-sized", strings.Repeat("eyJhbGciOi.", 70)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sum := sha256.Sum256([]byte(tc.raw))
			if got, want := CredentialID(tc.raw), hex.EncodeToString(sum[:6]); got != want {
				t.Fatalf("CredentialID = %s, want %s", got, want)
			}
		})
	}
	if got := CredentialID("abc"); got != "ba7816bf8f01" {
		t.Fatalf("CredentialID(abc) = %s", got)
	}
}
