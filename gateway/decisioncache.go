package gateway

import (
	"crypto/x509"
	"hash/maphash"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/bundles"
)

// decisionCache remembers decisions of one generation, keyed by exactly what
// the policy reads when bundles.Engine.Cacheable says it reads nothing else:
// the operation, the identity of each scheme position (authenticators hand
// out the same immutable *authn.Identity for a cached credential), the
// rejection reasons, and the client certificate. Bundle data is fixed for a
// generation, and a new generation starts with an empty cache, so a data
// reload (a revoked jti, a new subscription) takes effect at once.
//
// A hit skips building the policy input and evaluating Rego, the largest
// remaining per-request cost after credential caching (`make bench`).
type decisionCache struct {
	seed   maphash.Seed
	shards [16]decisionShard
	hits   atomic.Uint64
	misses atomic.Uint64
}

type decisionShard struct {
	mu sync.RWMutex
	m  map[decisionKey]*bundles.Decision
}

// maxKeySchemes bounds the schemes an operation may have for its decisions
// to be cached; larger operations are simply evaluated every time.
const maxKeySchemes = 4

// decisionShardMax bounds each shard; a full shard is cleared (cheap, rare,
// and correct: a miss only costs an evaluation). 16 × 1024 entries is about
// the credential caches' size (authn.DefaultCacheSize): a key holds its
// identities alive, and a decision for an identity the credential cache has
// dropped can never hit again (a re-verified credential is a new pointer), so
// a larger bound would only keep dead identities on the heap (at 4096 it kept
// ~65k after a fresh-token load run).
const decisionShardMax = 1024

type decisionKey struct {
	op       *compiledOp
	ids      [maxKeySchemes]*authn.Identity
	rejected [maxKeySchemes]authn.Reason
	cert     *x509.Certificate
	viaProxy bool
}

func newDecisionCache() *decisionCache {
	c := &decisionCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = map[decisionKey]*bundles.Decision{}
	}
	return c
}

// key builds the cache key of an evaluation, or reports that it has none.
func (c *decisionCache) key(r *http.Request, ev *Evaluation) (decisionKey, bool) {
	op := ev.Op
	if len(op.Schemes) > maxKeySchemes {
		return decisionKey{}, false
	}
	k := decisionKey{op: op}
	for _, o := range ev.Outcomes {
		if o.Identity != nil {
			k.ids[o.Position] = o.Identity
			continue
		}
		k.rejected[o.Position] = o.Rejection.Reason
		if o.Rejection.Reason == "" {
			k.rejected[o.Position] = "unknown"
		}
	}
	if chain, via := authn.ClientCertificates(r); len(chain) > 0 {
		k.cert, k.viaProxy = chain[0], via
	}
	return k, true
}

func (c *decisionCache) shard(k decisionKey) *decisionShard {
	return &c.shards[maphash.Comparable(c.seed, k)%uint64(len(c.shards))]
}

func (c *decisionCache) get(k decisionKey) (*bundles.Decision, bool) {
	s := c.shard(k)
	s.mu.RLock()
	d, ok := s.m[k]
	s.mu.RUnlock()
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return d, ok
}

func (c *decisionCache) put(k decisionKey, d *bundles.Decision) {
	s := c.shard(k)
	s.mu.Lock()
	if len(s.m) >= decisionShardMax {
		clear(s.m)
	}
	s.m[k] = d
	s.mu.Unlock()
}
