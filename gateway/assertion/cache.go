package assertion

import (
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/authn"
)

// Operation is what an assertion says about the operation it was signed
// for. The cache keys on its address: each compiled operation holds one.
type Operation struct {
	API, Version, ID string
}

// Cache holds one generation's signed assertions. It belongs to the
// generation, like the decision cache, because its keys hold the
// generation's *Operation: a
// cache on the process-wide Asserter kept every retired generation (policy,
// routes, authenticators) alive — the soak's heap grew ~20 MiB/min with a
// reload every 10 s.
type Cache struct {
	mu      sync.Mutex
	byIDs   map[assertionKey]cachedAssertion
	content map[contentKey]cachedAssertion
}

// NewCache makes an empty cache for one generation.
func NewCache() *Cache {
	return &Cache{byIDs: map[assertionKey]cachedAssertion{}, content: map[contentKey]cachedAssertion{}}
}

type contentKey struct {
	op *Operation
	s  string
}

type assertionKey struct {
	op  *Operation
	ids [4]*authn.Identity
}

type cachedAssertion struct {
	token   string
	refresh time.Time // re-sign after this
	exp     time.Time // the assertion's exp
}

const assertionCacheMax = 16384

func (c *Cache) storeLocked(key assertionKey, ck contentKey, e cachedAssertion) {
	if len(c.byIDs) >= assertionCacheMax {
		clear(c.byIDs)
	}
	if len(c.content) >= assertionCacheMax {
		clear(c.content)
	}
	c.byIDs[key] = e
	c.content[ck] = e
}
