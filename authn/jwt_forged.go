package authn

import (
	"errors"
	"time"
)

// A flood of forged tokens (a valid header and claims under a trusted
// issuer's kid, a signature made with some other key) makes the gateway pay
// an RSA or ECDSA verification per request, the most expensive rejection
// there is; malformed tokens are refused while parsing, for far less. Floods
// replay a few tokens at a high rate (cmd/loadbench's forged-token flood
// sends 32), so the verifier remembers the tokens whose signature failed:
// the same bytes sent again are refused with the same reason after a
// lookup of the SHA-256 the verified-token cache already computed.
//
// Whether a signature verifies depends only on the token's bytes and the
// key, so an entry stays true while that key does: a hit also requires a
// rotating source (remote JWKS) to still hold the key that refused the
// token, exactly as a verified entry does, and forgedTTL bounds the rest
// (a key set that changes which key a kid names while keeping the old
// one). Entries are small (the 32-byte key, a reason, two pointers) and the
// cache is bounded by forgedCacheSize with the credential caches' sampled
// eviction, so distinct forged tokens cost memory only up to that bound and
// simply evict each other.
const (
	forgedCacheSize = 10_000
	forgedTTL       = time.Minute
)

// forgedEntry is a token whose signature the key refused.
type forgedEntry struct {
	reason Reason
	detail string
	src    RotatingKeySource
	key    *VerificationKey
}

// forgedAgain returns the rejection of a token remembered as forged.
func (j *JWT) forgedAgain(key CacheKey) (error, bool) {
	e, ok := j.forged.Get(key)
	if !ok {
		return nil, false
	}
	if e.src != nil && !e.src.Holds(e.key) {
		j.forged.Delete(key)
		return nil, false
	}
	return Reject(j.scheme, e.reason, e.detail, nil), true
}

// rememberForged records that vk, a key of is, refused the token's
// signature with err (a *Rejection); other failures are not remembered.
func (j *JWT) rememberForged(key CacheKey, is *issuer, vk *VerificationKey, err error) {
	var rej *Rejection
	if j.forged == nil || !errors.As(err, &rej) {
		return
	}
	j.forged.Put(key, forgedEntry{reason: rej.Reason, detail: rej.Detail, src: is.rotating, key: vk}, j.now().Add(forgedTTL))
}

// ForgedStats reports how often a token remembered as forged was sent
// again (hits), and how often a token was looked up and not found there.
func (j *JWT) ForgedStats() (hits, misses uint64) { return j.forged.Stats() }
