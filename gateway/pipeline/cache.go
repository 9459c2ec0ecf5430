package pipeline

import (
	"crypto/x509"
	"hash/maphash"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/bundles"
)

// Cache remembers decisions of one generation, keyed by exactly what
// the policy reads when bundles.Engine.Cacheable says it reads nothing else:
// the operation, the identity of each scheme position (authenticators hand
// out the same immutable *authn.Identity for a cached credential), the
// rejection reasons, and the client certificate. Bundle data is fixed for a
// generation, and a new generation starts with an empty cache, so a data
// reload (a revoked jti, a new subscription) takes effect at once.
//
// A hit skips building the policy input and evaluating Rego, the largest
// remaining per-request cost after credential caching (`make bench`).
type Cache struct {
	seed   maphash.Seed
	shards [decisionShards]decisionShard
	hits   atomic.Uint64
	misses atomic.Uint64
}

type decisionShard struct {
	mu sync.RWMutex
	m  map[Key]*bundles.Decision
}

// MaxKeySchemes bounds the schemes an operation may have for its decisions
// to be cached; larger operations are simply evaluated every time.
const MaxKeySchemes = 4

// decisionShardMax bounds each shard; a full shard is cleared (cheap, rare,
// and correct: a miss only costs an evaluation). All shards together hold
// the credential caches' size (authn.DefaultCacheSize): a key holds its
// identities alive, and a decision for an identity the credential cache has
// dropped can never hit again (a re-verified credential is a new pointer), so
// a larger bound would only keep dead identities on the heap (at 4× the
// credential bound it kept ~65k of 10k after a fresh-token load run).
const decisionShardMax = (authn.DefaultCacheSize + decisionShards - 1) / decisionShards

const decisionShards = 16

// Key is a decision cache key: exactly what a cacheable policy reads. The
// engine decides at build which policies are cacheable, from the input
// paths listed in cacheableInputs (bundles/cacheable.go): a field added
// here is added there, and the reverse.
type Key struct {
	op       *OpInput
	ids      [MaxKeySchemes]*authn.Identity
	rejected [MaxKeySchemes]authn.Reason
	cert     *x509.Certificate
	viaProxy bool
}

// NewCache makes an empty cache for one generation.
func NewCache() *Cache {
	c := &Cache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = map[Key]*bundles.Decision{}
	}
	return c
}

// Key builds the cache key of an evaluation, or reports that it has none.
func (c *Cache) Key(r *http.Request, op *OpInput, outcomes Outcomes) (Key, bool) {
	if op.NumSchemes > MaxKeySchemes || op.ReadsBody {
		// The body is not in the key: a policy that reads it is evaluated
		// every time.
		return Key{}, false
	}
	k := Key{op: op}
	for _, o := range outcomes {
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

func (c *Cache) shard(k Key) *decisionShard {
	return &c.shards[maphash.Comparable(c.seed, k)%uint64(len(c.shards))]
}

// Get returns the cached decision for k.
func (c *Cache) Get(k Key) (*bundles.Decision, bool) {
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

// Len is the number of cached decisions.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// Put caches d for k.
func (c *Cache) Put(k Key, d *bundles.Decision) {
	s := c.shard(k)
	s.mu.Lock()
	if len(s.m) >= decisionShardMax {
		clear(s.m)
	}
	s.m[k] = d
	s.mu.Unlock()
}
