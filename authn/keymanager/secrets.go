package keymanager

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Client secrets are stored only as password hashes: bcrypt ($2a$, $2b$,
// $2y$; what `htpasswd -B` and `gatehouse app create` write) or argon2id in
// the PHC string format ($argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>,
// unpadded standard base64).

// Limits on argon2id parameters, so data cannot make one comparison cost
// gigabytes or minutes.
const (
	maxArgonMemoryKiB = 256 << 10
	maxArgonTime      = 10
	maxArgonThreads   = 16
	minArgonKeyLen    = 16
	maxArgonKeyLen    = 64
)

// ErrSecretHash wraps every malformed secret hash.
var ErrSecretHash = errors.New("malformed client secret hash")

// secretHash is a parsed hash: check compares a presented secret with it.
type secretHash interface {
	check(secret []byte) bool
}

type bcryptHash []byte

// check refuses secrets over 72 bytes: bcrypt would compare only their
// first 72 (the same work is done, so the refusal takes as long).
func (h bcryptHash) check(secret []byte) bool {
	ok := bcrypt.CompareHashAndPassword(h, secret[:min(len(secret), 72)]) == nil
	return ok && len(secret) <= 72
}

type argonHash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

func (h argonHash) check(secret []byte) bool {
	got := argon2.IDKey(secret, h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// ParseSecretHash parses a stored client secret hash.
func ParseSecretHash(s string) (secretHash, error) {
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		// x/crypto/bcrypt reads $2a$ and $2b$; $2y$ is the same algorithm.
		h := []byte("$2a$" + s[4:])
		if _, err := bcrypt.Cost(h); err != nil {
			return nil, fmt.Errorf("%w: bcrypt: %w", ErrSecretHash, err)
		}
		return bcryptHash(h), nil
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	}
	return nil, fmt.Errorf("%w: not bcrypt ($2a$/$2b$/$2y$) or argon2id ($argon2id$)", ErrSecretHash)
}

func parseArgon2id(s string) (secretHash, error) {
	bad := func(why string) (secretHash, error) { return nil, fmt.Errorf("%w: argon2id: %s", ErrSecretHash, why) }
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return bad("want $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	if parts[2] != "v=19" {
		return bad("only version 19 is supported")
	}
	var h argonHash
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || seen[k] {
			return bad("parameters must be m=<KiB>,t=<passes>,p=<threads>")
		}
		seen[k] = true
		switch k {
		case "m":
			h.memory = uint32(n)
		case "t":
			h.time = uint32(n)
		case "p":
			if n > 255 {
				return bad("too many threads")
			}
			h.threads = uint8(n)
		default:
			return bad("unknown parameter " + strconv.Quote(k))
		}
	}
	switch {
	case len(seen) != 3:
		return bad("parameters must be m=<KiB>,t=<passes>,p=<threads>")
	case h.time < 1 || h.time > maxArgonTime, h.threads < 1 || h.threads > maxArgonThreads,
		h.memory < 8*uint32(h.threads) || h.memory > maxArgonMemoryKiB:
		return bad("parameters out of range")
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return bad("salt must be unpadded base64 of at least 8 bytes")
	}
	if h.key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil || len(h.key) < minArgonKeyLen || len(h.key) > maxArgonKeyLen {
		return bad("hash must be unpadded base64 of 16 to 64 bytes")
	}
	return h, nil
}

// HashSecret returns the bcrypt hash of a client secret, written as
// `$2y$` like htpasswd -B (cost bcrypt.DefaultCost when cost <= 0).
func HashSecret(secret string, cost int) (string, error) {
	if cost <= 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(secret), cost)
	if err != nil {
		return "", err
	}
	return "$2y$" + strings.TrimPrefix(string(h), "$2a$"), nil
}

// NewSecret returns a random client secret: 32 bytes, base64url.
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
