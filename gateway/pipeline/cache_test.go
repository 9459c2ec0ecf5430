package pipeline

import (
	"net/http/httptest"
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
		k.ids[0] = &authn.Identity{Subject: strconv.Itoa(i)}
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
	k.ids[0] = &authn.Identity{Subject: "again"}
	c.Put(k, d)
	if got, _, ok := c.Get(k); !ok || got != d {
		t.Fatal("a full cache stopped caching")
	}
}

// TestCacheKeyReasons: every reason of the closed set keys apart from the
// others, from a rejection without a reason and from no rejection; a reason
// outside the set leaves the evaluation uncached rather than share a key.
func TestCacheKeyReasons(t *testing.T) {
	c := NewCache()
	op := &OpInput{NumSchemes: 2}
	r := httptest.NewRequest("GET", "/", nil)
	keyOf := func(reason authn.Reason) (Key, bool) {
		return c.Key(r, op, Outcomes{{Scheme: "b", Position: 1, Rejection: &authn.Rejection{Scheme: "b", Reason: reason}}})
	}
	none, ok := c.Key(r, op, nil)
	if !ok {
		t.Fatal("no key without outcomes")
	}
	seen := map[Key]authn.Reason{none: "(none)"}
	for _, reason := range append([]authn.Reason{""}, authn.Reasons...) {
		t.Run("ok/"+string(reason), func(t *testing.T) {
			k, ok := keyOf(reason)
			if !ok {
				t.Fatal("uncacheable")
			}
			if other, dup := seen[k]; dup {
				t.Fatalf("keys like %q", other)
			}
			seen[k] = reason
		})
	}
	t.Run("fail/unknown-reason", func(t *testing.T) {
		if _, ok := keyOf("made_up"); ok {
			t.Fatal("a reason outside the closed set got a key")
		}
	})
}
