package dpop

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// Nonces issues and checks server nonces (RFC 9449 §8, §9) without state:
// a nonce is the time it was issued and an HMAC of that time under a key,
// base64url. Any replica holding the key accepts it until it is Lifetime
// old; a proof must still be fresh (iat) and unused (jti) besides.
type Nonces struct {
	key      []byte
	lifetime time.Duration
	now      func() time.Time
}

// DefaultNonceLifetime is how long an issued nonce is accepted.
const DefaultNonceLifetime = 5 * time.Minute

const (
	nonceMACLen = 16
	nonceLen    = 8 + nonceMACLen
)

// NewNonces makes a nonce issuer. A key shorter than 32 bytes is refused;
// nil makes a random key (nonces then work on this process only).
func NewNonces(key []byte, lifetime time.Duration, now func() time.Time) (*Nonces, error) {
	if key == nil {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
	}
	if len(key) < 32 {
		return nil, errors.New("dpop: the nonce key must be at least 32 bytes")
	}
	if lifetime <= 0 {
		lifetime = DefaultNonceLifetime
	}
	if now == nil {
		now = time.Now
	}
	return &Nonces{key: key, lifetime: lifetime, now: now}, nil
}

// Key is the HMAC key, to make another issuer that accepts these nonces.
func (n *Nonces) Key() []byte { return n.key }

// New returns a fresh nonce.
func (n *Nonces) New() string {
	var b [nonceLen]byte
	binary.BigEndian.PutUint64(b[:8], uint64(n.now().Unix()))
	copy(b[8:], n.mac(b[:8]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Valid reports whether s is a nonce this key issued less than Lifetime
// ago (and not in the future, beyond a few seconds of clock skew).
func (n *Nonces) Valid(s string) bool {
	if base64.RawURLEncoding.DecodedLen(len(s)) != nonceLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != nonceLen {
		return false
	}
	if !hmac.Equal(b[8:], n.mac(b[:8])) {
		return false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	now := n.now()
	return !issued.After(now.Add(5*time.Second)) && now.Sub(issued) < n.lifetime
}

func (n *Nonces) mac(ts []byte) []byte {
	h := hmac.New(sha256.New, n.key)
	h.Write([]byte("gatehouse dpop nonce\x00"))
	h.Write(ts)
	return h.Sum(nil)[:nonceMACLen]
}
