package authn

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Redacted holds a secret (a token, key, password or Authorization value) that
// may travel through code that logs. Both of hclog's output paths are covered:
// the text formatter calls String (fmt verbs), the JSON formatter calls
// MarshalJSON / MarshalText. Read the value only with Reveal.
type Redacted string

const redactedText = "[redacted]"

func (Redacted) String() string               { return redactedText }
func (Redacted) GoString() string             { return redactedText }
func (Redacted) MarshalJSON() ([]byte, error) { return []byte(`"` + redactedText + `"`), nil }
func (Redacted) MarshalText() ([]byte, error) { return []byte(redactedText), nil }
func (r Redacted) Reveal() string             { return string(r) }

// Format makes every fmt verb (%s, %v, %q, %x, %#v) print the placeholder.
func (Redacted) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redactedText)) }

// CredentialID returns a short, log-safe identifier of a raw credential: the
// first 12 hex digits of its SHA-256. It identifies a credential across log
// lines without revealing it.
func CredentialID(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:6])
}
