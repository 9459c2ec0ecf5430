package authn

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
)

// CacheKey is the key of a Cache: a SHA-256 digest of whatever identifies the
// cached credential (never the credential itself).
type CacheKey [sha256.Size]byte

// CacheKeyOf is the SHA-256 of a credential, the key it is cached and
// looked up under. The credential is hashed through a stack buffer, so a
// cache hit copies nothing to the heap (a 700-byte token converted with
// []byte would be one allocation per request).
func CacheKeyOf(credential string) CacheKey {
	h := sha256.New()
	var buf [256]byte
	for s := credential; len(s) > 0; {
		n := copy(buf[:], s)
		h.Write(buf[:n])
		s = s[n:]
	}
	var k CacheKey
	h.Sum(k[:0])
	return k
}

// DefaultCacheSize is the number of entries a credential cache holds unless
// configured otherwise: 100,000, so the working set of a large API (every
// token refreshed within a cache TTL) stays verified once. An entry with its
// decision is ~0.7 KB of live heap for a typical access token (gateway
// BenchmarkMemory: 720 B at 100,000), so a full cache is ~70 MB; README
// "Cache sizes and memory" has the sizing.
const DefaultCacheSize = 100_000

const (
	cacheShards = 16
	// evictSample is how many entries an insert into a full shard looks at
	// to pick a victim: expired ones first, else the one expiring soonest
	// (sampled eviction, as Redis does; O(1) per insert, no LRU list).
	evictSample = 8
)

// Cache is a bounded, concurrency-safe map from CacheKey to V where every
// entry carries its own expiry. It caches verified credentials (JWTs, Basic
// credentials, and later introspection answers and API keys): callers store
// successes only, with an expiry that never passes the credential's own.
//
// Reads take a shard's read lock and allocate nothing. Inserts into a full
// shard evict by sampling; Cache never grows past its size. The zero value is
// not usable; call NewCache. A nil *Cache is a valid, always-empty cache.
type Cache[V any] struct {
	now      func() time.Time
	perShard int
	shards   [cacheShards]cacheShard[V]
	hits     atomic.Uint64
	misses   atomic.Uint64
}

type cacheShard[V any] struct {
	mu sync.RWMutex
	m  map[CacheKey]cacheEntry[V]
}

type cacheEntry[V any] struct {
	v       V
	expires int64 // unix nanoseconds
}

// NewCache returns a cache of at most size entries (DefaultCacheSize when
// size <= 0). now is the clock entries expire by (time.Now when nil).
func NewCache[V any](size int, now func() time.Time) *Cache[V] {
	if size <= 0 {
		size = DefaultCacheSize
	}
	if now == nil {
		now = time.Now
	}
	per := (size + cacheShards - 1) / cacheShards
	c := &Cache[V]{now: now, perShard: per}
	for i := range c.shards {
		c.shards[i].m = make(map[CacheKey]cacheEntry[V])
	}
	return c
}

func (c *Cache[V]) shard(k CacheKey) *cacheShard[V] {
	return &c.shards[k[0]%cacheShards]
}

// Get returns the value stored under k if it has not expired.
func (c *Cache[V]) Get(k CacheKey) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	s := c.shard(k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok || c.now().UnixNano() >= e.expires {
		c.misses.Add(1)
		return zero, false
	}
	c.hits.Add(1)
	return e.v, true
}

// Put stores v under k until expires. An expiry not after now stores
// nothing.
func (c *Cache[V]) Put(k CacheKey, v V, expires time.Time) {
	if c == nil {
		return
	}
	now := c.now().UnixNano()
	exp := expires.UnixNano()
	if exp <= now {
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.m[k]; !exists && len(s.m) >= c.perShard {
		s.evict(now)
	}
	s.m[k] = cacheEntry[V]{v: v, expires: exp}
}

// evict removes expired entries among a small random sample, or else the
// sampled entry that expires first. Map iteration starts at a random
// position, which makes the sample random. Callers hold s.mu.
func (s *cacheShard[V]) evict(now int64) {
	var victim CacheKey
	var victimExp int64
	found, removed, n := false, false, 0
	for k, e := range s.m {
		if e.expires <= now {
			delete(s.m, k)
			removed = true
		} else if !found || e.expires < victimExp {
			victim, victimExp, found = k, e.expires, true
		}
		n++
		if n >= evictSample {
			break
		}
	}
	if !removed && found {
		delete(s.m, victim)
	}
}

// Delete removes the entry under k, if any.
func (c *Cache[V]) Delete(k CacheKey) {
	if c == nil {
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// Purge removes every entry.
func (c *Cache[V]) Purge() {
	if c == nil {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

// Len returns the number of entries, expired ones not yet evicted included.
func (c *Cache[V]) Len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// Stats returns the number of hits and misses so far, for metrics.
func (c *Cache[V]) Stats() (hits, misses uint64) {
	if c == nil {
		return 0, 0
	}
	return c.hits.Load(), c.misses.Load()
}
