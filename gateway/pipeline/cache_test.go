package pipeline

import (
	"strconv"
	"testing"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/bundles"
)

// TestCacheBound puts more distinct keys into a decision cache than it may
// hold: it never holds more than authn.DefaultCacheSize decisions (one per
// credential the credential caches can hold), and a full shard is cleared,
// not grown.
func TestCacheBound(t *testing.T) {
	c := NewCache()
	op := &OpInput{}
	d := &bundles.Decision{Allow: true}
	most := 0
	for i := range authn.DefaultCacheSize * 2 {
		k := Key{op: op}
		k.rejected[0] = authn.Reason(strconv.Itoa(i))
		c.Put(k, d)
		if i%1000 == 0 {
			most = max(most, c.Len())
		}
	}
	most = max(most, c.Len())
	if most > authn.DefaultCacheSize || most < authn.DefaultCacheSize/2 {
		t.Fatalf("decision cache held up to %d entries; its bound is %d", most, authn.DefaultCacheSize)
	}
	k := Key{op: op}
	k.rejected[0] = "again"
	c.Put(k, d)
	if got, _, ok := c.Get(k); !ok || got != d {
		t.Fatal("a full cache stopped caching")
	}
}
