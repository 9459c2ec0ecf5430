package authn_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
)

func authenticate(t *testing.T, j *authn.JWT, tok string) (*authn.Identity, error) {
	t.Helper()
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return j.Authenticate(r)
}

func TestJWTCacheNeverServesPastExp(t *testing.T) {
	f := newJWTFixture(t)
	zero := time.Duration(0)
	strict := *f.a
	strict.Leeway = &zero
	j := f.jwt(t, []*authn.Issuer{&strict})
	tok := mint(t, f.esA, f.with(issA, func(c map[string]any) { c["exp"] = f.clock.Now().Add(2 * time.Minute).Unix() }))

	id1, err := authenticate(t, j, tok)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := authenticate(t, j, tok)
	if err != nil || id2 != id1 {
		t.Fatalf("second call: %v, same identity: %v", err, id2 == id1)
	}
	if hits, _ := j.CacheStats(); hits != 1 {
		t.Fatalf("hits = %d, want 1", hits)
	}
	f.clock.Advance(2*time.Minute - time.Second)
	if id, err := authenticate(t, j, tok); err != nil || id != id1 {
		t.Fatalf("just before exp: %v, cached: %v", err, id == id1)
	}
	f.clock.Advance(time.Second)
	_, err = authenticate(t, j, tok)
	if rej, ok := authn.AsRejection(err); !ok || rej.Reason != authn.ReasonExpired {
		t.Fatalf("at exp: err = %v, want expired (the cache must not serve it)", err)
	}
}

func TestJWTCacheEntryEndsAtExpEvenWithinLeeway(t *testing.T) {
	f := newJWTFixture(t)
	j := f.jwt(t, []*authn.Issuer{f.a}) // leeway 60s
	tok := mint(t, f.esA, f.with(issA, func(c map[string]any) { c["exp"] = f.clock.Now().Add(time.Minute).Unix() }))
	id1, err := authenticate(t, j, tok)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute + 10*time.Second)
	id2, err := authenticate(t, j, tok)
	if err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	if id2 == id1 {
		t.Fatal("served from cache past exp")
	}
}

func TestJWTCacheTTL(t *testing.T) {
	f := newJWTFixture(t)
	tok := mint(t, f.edA, f.claims(issA)) // exp in 1h

	j := f.jwt(t, []*authn.Issuer{f.a}) // default max TTL 5 min
	id1, _ := authenticate(t, j, tok)
	f.clock.Advance(5*time.Minute - time.Second)
	if id, _ := authenticate(t, j, tok); id != id1 {
		t.Fatal("not cached within the TTL")
	}
	f.clock.Advance(2 * time.Second)
	if id, err := authenticate(t, j, tok); err != nil || id == id1 {
		t.Fatalf("served past the cache TTL (err %v)", err)
	}

	short := f.jwt(t, []*authn.Issuer{f.a}, authn.WithCacheTTL(10*time.Second))
	id1, _ = authenticate(t, short, tok)
	f.clock.Advance(11 * time.Second)
	if id, _ := authenticate(t, short, tok); id == id1 {
		t.Fatal("WithCacheTTL not applied")
	}

	perIssuer := *f.a
	perIssuer.CacheTTL = 20 * time.Second
	pj := f.jwt(t, []*authn.Issuer{&perIssuer})
	id1, _ = authenticate(t, pj, tok)
	f.clock.Advance(15 * time.Second)
	if id, _ := authenticate(t, pj, tok); id != id1 {
		t.Fatal("issuer cache TTL: not cached")
	}
	f.clock.Advance(10 * time.Second)
	if id, _ := authenticate(t, pj, tok); id == id1 {
		t.Fatal("issuer cache TTL not applied")
	}

	never := *f.a
	never.CacheTTL = -1
	nj := f.jwt(t, []*authn.Issuer{&never})
	id1, _ = authenticate(t, nj, tok)
	if id, _ := authenticate(t, nj, tok); id == id1 {
		t.Fatal("issuer with negative cache TTL was cached")
	}

	off := f.jwt(t, []*authn.Issuer{f.a}, authn.WithCacheTTL(0))
	id1, _ = authenticate(t, off, tok)
	if id, _ := authenticate(t, off, tok); id == id1 {
		t.Fatal("cache disabled but identity reused")
	}
}
