package authn

import (
	"encoding/hex"

	"github.com/gatehouse/gatehouse/internal/redact"
)

// Redacted holds a secret (a token, key, password or Authorization value) that
// may travel through code that logs: every fmt verb and both of hclog's
// output paths print a placeholder. Read the value only with Reveal. It is
// defined in internal/redact so that the configuration's secret references
// resolve to it without importing authn.
type Redacted = redact.Redacted

// CredentialID returns a short, log-safe identifier of a raw credential: the
// first 12 hex digits of its SHA-256. It identifies a credential across log
// lines without revealing it. The digest is CacheKeyOf's, which hashes the
// string without copying it (a bearer token is ~700 bytes, copied once per
// first-seen token before).
func CredentialID(raw string) string { return CacheKeyOf(raw).CredentialID() }

// CredentialID is the log-safe identifier of the credential k was computed
// from: verifiers that already hold a credential's CacheKey take its id
// from it rather than hashing the credential a second time.
func (k CacheKey) CredentialID() string { return hex.EncodeToString(k[:6]) }
