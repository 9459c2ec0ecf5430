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
//
// What an entry holds is kept small (cache_shared.go): a decision whose
// principal is the document of one of the key's identities is stored
// without it, as a template that every credential with the same answer
// shares, and the identities' memoized policy values are released; the
// principal is that identity's document again when someone reads it
// (Evaluation.Principal, Evaluation.WholeDecision).
type Cache struct {
	seed      maphash.Seed
	shards    [decisionShards]decisionShard
	templates templates
	hits      atomic.Uint64
	misses    atomic.Uint64
}

type decisionShard struct {
	mu sync.RWMutex
	m  map[Key]cachedDecision
}

// cachedDecision is a cache entry: the decision, or with principal >= 0 its
// shared template (Principal nil, Value without "principal") whose principal
// is the document of the identity at that position of the key.
type cachedDecision struct {
	d         *bundles.Decision
	principal int8
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
//
// Rejection reasons are a byte each (reasonCodes): with the strings, a key
// was 120 bytes and a cached decision ~190 bytes of map; now 56 and ~110.
type Key struct {
	op       *OpInput
	ids      [MaxKeySchemes]*authn.Identity
	cert     *x509.Certificate
	rejected [MaxKeySchemes]uint8
	viaProxy bool
}

// reasonCodes numbers the closed set of rejection reasons (authn.Reasons)
// from 2 for the key; 1 is a rejection without a reason, 0 none. A reason
// outside the set makes the evaluation uncacheable rather than share a code.
var reasonCodes = func() map[authn.Reason]uint8 {
	m := make(map[authn.Reason]uint8, len(authn.Reasons)+1)
	m[""] = 1
	for i, r := range authn.Reasons {
		m[r] = uint8(i + 2)
	}
	return m
}()

// NewCache makes an empty cache for one generation.
func NewCache() *Cache {
	c := &Cache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = map[Key]cachedDecision{}
	}
	c.templates.m = map[int][]template{}
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
		code, known := reasonCodes[o.Rejection.Reason]
		if !known {
			return Key{}, false
		}
		k.rejected[o.Position] = code
	}
	if chain, via := authn.ClientCertificates(r); len(chain) > 0 {
		k.cert, k.viaProxy = chain[0], via
	}
	return k, true
}

func (c *Cache) shard(k Key) *decisionShard {
	return &c.shards[maphash.Comparable(c.seed, k)%uint64(len(c.shards))]
}

// Get returns the cached decision for k and, when the decision is a shared
// template, the identity whose document is its principal (nil otherwise).
// A template's Principal is nil and its Value has no "principal":
// Evaluation.Principal and Evaluation.WholeDecision give them back.
func (c *Cache) Get(k Key) (*bundles.Decision, *authn.Identity, bool) {
	s := c.shard(k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok {
		c.misses.Add(1)
		return nil, nil, false
	}
	c.hits.Add(1)
	if e.principal >= 0 {
		return e.d, k.ids[e.principal], true
	}
	return e.d, nil, true
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

// Put caches d for k, the decision the engine made on the input of k's
// identities: shared and without its principal when that is one of their
// documents. Then it releases their memoized policy values
// (authn.Identity.ReleaseValue): a repeated credential hits this entry.
func (c *Cache) Put(k Key, d *bundles.Decision) {
	e := cachedDecision{d: d, principal: -1}
	if pos := principalPosition(k, d); pos >= 0 {
		if t := c.templates.of(d); t != nil {
			e = cachedDecision{d: t, principal: int8(pos)}
		}
	}
	s := c.shard(k)
	s.mu.Lock()
	if len(s.m) >= decisionShardMax {
		clear(s.m)
	}
	s.m[k] = e
	s.mu.Unlock()
	for _, id := range k.ids {
		if id != nil {
			id.ReleaseValue()
		}
	}
}
