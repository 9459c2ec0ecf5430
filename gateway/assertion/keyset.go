package assertion

import (
	"crypto"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse/gatehouse/authn/jose"
)

// The signing key is part of the generation: a reload reads
// upstream_identity.key_file again, so a rotated key takes effect without a
// restart. Two pieces outlive generations and live on the Server instead:
// the key a process generates when no key file is configured (Generated),
// so reloads do not change it, and the published key set (Published), which
// keeps a replaced key until nothing signed with it can still be presented.

// Generated holds the keys a process generated because no key file was
// configured: one per algorithm, the same for every generation.
type Generated struct {
	mu   sync.Mutex
	keys map[string]crypto.Signer
}

// key returns the process's generated key for alg, generating it once.
func (g *Generated) key(alg string) (crypto.Signer, error) {
	if g == nil {
		return generateKey(alg)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if k, ok := g.keys[alg]; ok {
		return k, nil
	}
	k, err := generateKey(alg)
	if err != nil {
		return nil, err
	}
	if g.keys == nil {
		g.keys = map[string]crypto.Signer{}
	}
	g.keys[alg] = k
	return k, nil
}

// JWKSMaxAge is the Cache-Control max-age of the published key set: how
// long an upstream may keep verifying with a copy it fetched.
const JWKSMaxAge = 5 * time.Minute

// Published is the key set served at /.well-known/jwks.json: the serving
// signer's keys (its signing key and the key set's verification-only keys),
// and the keys a reload stopped publishing until every assertion they
// signed has expired and every cached copy of the set that lacked the new
// key has gone stale (lifetime + JWKSMaxAge), so upstreams verify old and
// new assertions across a rotation even when the operator retires a key
// early.
type Published struct {
	mu      sync.Mutex
	current *Signer
	retired []retiredKey
}

type retiredKey struct {
	kid   string
	key   jwk.Key
	until time.Time
}

// Use publishes s as the serving signer (nil: none). Keys of the previous
// signer that s does not publish stay published for their overlap.
func (p *Published) Use(s *Signer, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.current
	p.current = s
	if prev == nil {
		return
	}
	kept := p.retired[:0]
	for _, r := range p.retired {
		if now.Before(r.until) && !s.publishes(r.kid) {
			kept = append(kept, r)
		}
	}
	for _, k := range prev.keys {
		if !s.publishes(k.KeyID()) && !slices.ContainsFunc(kept, func(r retiredKey) bool { return r.kid == k.KeyID() }) {
			kept = append(kept, retiredKey{kid: k.KeyID(), key: k, until: now.Add(prev.lifetime + JWKSMaxAge)})
		}
	}
	p.retired = kept
}

// publishes reports whether s publishes the key kid (false for nil).
func (s *Signer) publishes(kid string) bool {
	if s == nil {
		return false
	}
	return slices.ContainsFunc(s.keys, func(k jwk.Key) bool { return k.KeyID() == kid })
}

// JWKS is the published key set at now; ok is false when nothing is
// published (the identity assertion is off).
func (p *Published) JWKS(now time.Time) (jwks []byte, ok bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var keys []jwk.Key
	if p.current != nil {
		keys = append(keys, p.current.keys...)
	}
	extra := 0
	for _, r := range p.retired {
		if now.Before(r.until) {
			keys = append(keys, r.key)
			extra++
		}
	}
	if len(keys) == 0 {
		return nil, false, nil
	}
	if extra == 0 {
		return p.current.jwks, true, nil
	}
	b, err := jose.MarshalJWKS(keys...)
	if err != nil {
		return nil, true, fmt.Errorf("%w: %w", ErrSigningKey, err)
	}
	return b, true, nil
}
