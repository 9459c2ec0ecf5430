package bundles

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The flat cache must answer exactly as OPA's own virtual cache does: only
// the top frame is visible, Pop forgets that frame and restores the one below,
// and a nil value records "undefined".
func TestFlatVirtualCache(t *testing.T) {
	a := ast.MustParseRef("data.gatehouse.authz.allow")
	b := ast.MustParseRef("data.gatehouse.authz.alternative")
	one, two := ast.IntNumberTerm(1), ast.IntNumberTerm(2)

	c := newFlatVirtualCache()
	type want struct {
		v         *ast.Term
		undefined bool
	}
	check := func(name string, ref ast.Ref, w want) {
		t.Helper()
		v, undefined := c.Get(ref)
		if undefined != w.undefined || (v == nil) != (w.v == nil) || (v != nil && !v.Equal(w.v)) {
			t.Errorf("%s: Get(%v) = %v, %v; want %v, %v", name, ref, v, undefined, w.v, w.undefined)
		}
	}
	check("empty", a, want{})
	c.Put(a, one)
	c.Put(b, nil)
	check("put", a, want{v: one})
	check("undefined", b, want{undefined: true})
	c.Put(a, two)
	check("overwrite", a, want{v: two})

	c.Push()
	check("new frame hides a", a, want{})
	check("new frame hides b", b, want{})
	c.Put(a, one)
	check("frame put", a, want{v: one})
	if keys := c.Keys(); len(keys) != 1 || !keys[0].Equal(a) {
		t.Errorf("frame keys %v", keys)
	}
	c.Pop()
	check("pop restores a", a, want{v: two})
	check("pop restores b", b, want{undefined: true})

	// The evaluator may reuse the slice it passed: the cache keeps its own copy.
	r := ast.MustParseRef("data.x.y")
	c.Put(r, one)
	r[2] = ast.StringTerm("z")
	check("copied key", ast.MustParseRef("data.x.y"), want{v: one})
	check("no alias", ast.MustParseRef("data.x.z"), want{})

	c.release()
	c = virtualCachePool.Get().(*flatVirtualCache)
	check("released", a, want{})
}
