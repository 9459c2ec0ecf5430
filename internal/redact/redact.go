// Package redact holds the type of a secret value (a token, key, password
// or Authorization value) that travels through code that logs. It is a leaf
// package so that both the configuration's secret references
// (internal/config) and the authenticators (authn, which names it
// authn.Redacted) can use it without importing each other.
package redact

import "fmt"

// Redacted holds a secret that may travel through code that logs. Both of
// hclog's output paths are covered: the text formatter calls String (fmt
// verbs), the JSON formatter calls MarshalJSON / MarshalText. Read the value
// only with Reveal.
type Redacted string

const redactedText = "[redacted]"

func (Redacted) String() string               { return redactedText }
func (Redacted) GoString() string             { return redactedText }
func (Redacted) MarshalJSON() ([]byte, error) { return []byte(`"` + redactedText + `"`), nil }
func (Redacted) MarshalText() ([]byte, error) { return []byte(redactedText), nil }

// Reveal returns the secret itself.
func (r Redacted) Reveal() string { return string(r) }

// Format makes every fmt verb (%s, %v, %q, %x, %#v) print the placeholder.
func (Redacted) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redactedText)) }
