package authn

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

func key(s string) CacheKey { return sha256.Sum256([]byte(s)) }

func TestCacheExpiry(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := NewCache[string](10, clock)
	c.Put(key("a"), "A", now.Add(time.Minute))
	c.Put(key("past"), "P", now)
	if v, ok := c.Get(key("a")); !ok || v != "A" {
		t.Fatal("miss on a fresh entry")
	}
	if _, ok := c.Get(key("past")); ok {
		t.Fatal("an entry expiring now was stored")
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if _, ok := c.Get(key("a")); ok {
		t.Fatal("entry served at its expiry")
	}
	if hits, misses := c.Stats(); hits != 1 || misses != 2 {
		t.Fatalf("stats = %d/%d", hits, misses)
	}
	c.Delete(key("a"))
	if c.Len() != 0 {
		t.Fatal("Delete")
	}
}

func TestCacheBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewCache[int](64, func() time.Time { return now })
	for i := range 10000 {
		c.Put(key(fmt.Sprint(i)), i, now.Add(time.Duration(i+1)*time.Second))
	}
	if n := c.Len(); n > 64+cacheShards {
		t.Fatalf("cache grew to %d entries", n)
	}
	// Overwriting an existing key in a full shard evicts nothing.
	before := c.Len()
	for k := range c.shards[0].m {
		c.Put(k, -1, now.Add(time.Hour))
		break
	}
	if c.Len() != before {
		t.Fatal("overwrite evicted an entry")
	}
	c.Purge()
	if c.Len() != 0 {
		t.Fatal("Purge")
	}
}

func TestCacheEvictsExpiredFirst(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := NewCache[int](cacheShards, clock) // one entry per shard
	var sameShard []CacheKey
	for i := 0; len(sameShard) < 2; i++ {
		if k := key(fmt.Sprint(i)); k[0]%cacheShards == 0 {
			sameShard = append(sameShard, k)
		}
	}
	c.Put(sameShard[0], 0, now.Add(time.Second))
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	c.Put(sameShard[1], 1, now.Add(time.Hour))
	if v, ok := c.Get(sameShard[1]); !ok || v != 1 {
		t.Fatal("new entry not stored")
	}
	if len(c.shards[0].m) != 1 {
		t.Fatal("expired entry not evicted")
	}
}

func TestCacheNil(t *testing.T) {
	var c *Cache[int]
	c.Put(key("a"), 1, time.Now().Add(time.Hour))
	if _, ok := c.Get(key("a")); ok || c.Len() != 0 {
		t.Fatal("nil cache holds values")
	}
	c.Delete(key("a"))
	c.Purge()
}

func TestCacheConcurrent(t *testing.T) {
	c := NewCache[int](100, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := key(fmt.Sprint(g, i%300))
				c.Put(k, i, time.Now().Add(time.Minute))
				c.Get(k)
			}
		}()
	}
	wg.Wait()
	if c.Len() > 100+cacheShards {
		t.Fatalf("len %d", c.Len())
	}
}

// TestCacheDefaultBound fills a cache of the default size with more
// credentials than it may hold: it keeps DefaultCacheSize of them, no more
// (the bound a gateway's credential caches run with).
func TestCacheDefaultBound(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewCache[int](0, func() time.Time { return now })
	for i := range DefaultCacheSize + DefaultCacheSize/2 {
		c.Put(CacheKeyOf(strconv.Itoa(i)), i, now.Add(time.Hour))
	}
	if n := c.Len(); n > DefaultCacheSize || n < DefaultCacheSize-cacheShards {
		t.Fatalf("a full default cache holds %d entries, want %d", n, DefaultCacheSize)
	}
}
