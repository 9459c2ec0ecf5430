package bundles

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// The decision query runs on every request whose decision is not cached, so
// its fixed cost matters as much as the policy's. rego.PreparedEvalQuery.Eval
// spends about 60 allocations per evaluation before any rule of ours runs
// (policies/bench_test.go, BenchmarkFloor): an evaluation context, a result
// set, a goroutine and channel that watch ctx, and a fresh virtual-document
// cache whose tree nodes are allocated per cached rule. directQuery runs the
// same compiled query on OPA's topdown evaluator itself, with a pooled flat
// cache and a cancellation that polls ctx, and takes the decision from that
// cache. Evaluation options (explain's tracer) still go through rego.

// decisionRef is the rule the query evaluates. The query reads only
// decision.allow: the evaluator builds the rule's value once, when it stores
// it in the virtual cache, and eval reads the decision from there. Binding
// the whole decision to a query variable (or using it as a bare expression)
// made topdown build the decision object a second time for the query result
// (14 of 134 allocations of the base policy's allow/jwt:
// policies/bench_test.go, BenchmarkDecisionEngine).
var decisionRef = ast.MustParseRef(DecisionQuery)

var noMetrics = metrics.NoOp()

// directQuery is DecisionQuery compiled once for topdown.
type directQuery struct {
	compiler *ast.Compiler
	store    storage.Store
	body     ast.Body
	qc       ast.QueryCompiler
	ref      ast.Ref // the rule whose value is the decision
}

func newDirectQuery(compiler *ast.Compiler, store storage.Store, decisionRef ast.Ref) (*directQuery, error) {
	query := ast.NewBody(ast.Equality.Expr(ast.VarTerm("_"), ast.NewTerm(decisionRef)))
	qc := compiler.QueryCompiler().WithStrict(false)
	body, err := qc.Compile(query)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCompile, err)
	}
	// Compiled as the bare decision so that a decision without "allow"
	// still type-checks and fails at evaluation (decisionFrom); evaluated as
	// decision.allow, a boolean the query binds without copying anything.
	found := false
	ast.WalkTerms(body, func(t *ast.Term) bool {
		if r, ok := t.Value.(ast.Ref); ok && r.Equal(decisionRef) {
			t.Value = decisionRef.Append(ast.InternedTerm("allow"))
			found = true
		}
		return found
	})
	if !found {
		return nil, fmt.Errorf("%w: compiled decision query %v does not read %v", ErrCompile, body, decisionRef)
	}
	return &directQuery{compiler: compiler, store: store, body: body, qc: qc, ref: decisionRef}, nil
}

// eval returns the decision term, or nil when the decision is undefined.
// The value is the one the evaluator cached for decisionRef, whether or not
// the query succeeded: a decision whose allow is false, or missing, fails
// the query and must still reach decisionFrom (which reads or refuses it).
// A deadline (zero: none) bounds the evaluation without a context of its
// own: errDeadline when it passes.
func (q *directQuery) eval(ctx context.Context, input ast.Value, deadline time.Time) (*ast.Term, error) {
	txn, err := q.store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	defer q.store.Abort(ctx, txn)

	cache := virtualCachePool.Get().(*flatVirtualCache)
	defer cache.release()

	var cancel topdown.Cancel
	if done := ctx.Done(); done != nil || !deadline.IsZero() {
		cache.cancel = evalCancel{done: done, deadline: deadline}
		cancel = &cache.cancel
	}

	err = topdown.NewQuery(q.body).
		WithQueryCompiler(q.qc).
		WithCompiler(q.compiler).
		WithStore(q.store).
		WithTransaction(txn).
		WithMetrics(noMetrics).
		WithInput(ast.NewTerm(input)).
		WithStrictBuiltinErrors(true).
		WithVirtualCache(cache).
		WithBaseCache(noBaseCache{}).
		WithCancel(cancel).
		WithIndexing(true).
		WithEarlyExit(true).
		Iter(ctx, func(topdown.QueryResult) error { return nil })
	if err != nil {
		if cache.cancel.expired {
			return nil, fmt.Errorf("%w: %w", errDeadline, err)
		}
		return nil, err
	}
	out, _ := cache.Get(q.ref)
	return out, nil
}

// evalCancel cancels an evaluation once its context is done or its
// deadline has passed. topdown polls Cancelled before every expression; a
// non-blocking receive is cheaper than the goroutine rego starts per
// evaluation to watch ctx, and reading the clock every 16th poll cheaper
// than a context with a timeout per decision (its timer, and 5 allocations
// of BenchmarkPipeline/jwt-first-seen in gateway/bench_test.go). It lives in the pooled
// cache, so taking its address allocates nothing.
type evalCancel struct {
	done     <-chan struct{}
	deadline time.Time
	polls    uint32
	expired  bool
}

// errDeadline: an evaluation's deadline passed.
var errDeadline = errors.New("evaluation deadline passed")

func (c *evalCancel) Cancel() {}

func (c *evalCancel) Cancelled() bool {
	if c.done != nil {
		select {
		case <-c.done:
			return true
		default:
		}
	}
	if !c.deadline.IsZero() {
		c.polls++
		if c.polls%16 == 0 && !time.Now().Before(c.deadline) {
			c.expired = true
		}
	}
	return c.expired
}

// noBaseCache caches no reads of bundle data. OPA's base cache is a trie
// allocated per evaluation; the store it fronts is in memory, and the base
// policy reads data by key a few times per decision, so reading the store
// again is cheaper than building the trie.
type noBaseCache struct{}

func (noBaseCache) Get(ast.Ref) ast.Value  { return nil }
func (noBaseCache) Put(ast.Ref, ast.Value) {}

var virtualCachePool = sync.Pool{New: func() any { return newFlatVirtualCache() }}

// flatVirtualCache implements topdown.VirtualCache with one slice of entries
// and one hash index, both kept across evaluations (sync.Pool), instead of
// a tree of hash maps built per evaluation. Frames (pushed for `with`) are
// ranges of the entry slice; a lookup only sees the top frame, as OPA's own
// cache does.
type flatVirtualCache struct {
	cancel  evalCancel // the evaluation's, set by eval
	entries []cacheEntry
	index   map[int]int // ref hash → newest entry with that hash
	frames  []int       // start of each frame in entries
	// arena holds copies of the refs put: the evaluator may reuse the
	// slice it passes, and OPA's own cache keeps the terms, not the slice.
	arena []*ast.Term
}

type cacheEntry struct {
	ref       ast.Ref
	value     *ast.Term
	undefined bool
	hash      int
	prev      int // older entry with the same hash, or -1
}

// maxPooledEntries bounds what a pooled cache keeps: an evaluation that
// cached more (a policy walking large data) is not pooled.
const maxPooledEntries = 1024

func newFlatVirtualCache() *flatVirtualCache {
	return &flatVirtualCache{index: make(map[int]int, 64), frames: []int{0}}
}

func (c *flatVirtualCache) release() {
	if len(c.entries) > maxPooledEntries {
		return
	}
	clear(c.entries) // drop references to terms of this evaluation
	c.entries = c.entries[:0]
	clear(c.index)
	clear(c.arena)
	c.arena = c.arena[:0]
	c.frames = append(c.frames[:0], 0)
	c.cancel = evalCancel{}
	virtualCachePool.Put(c)
}

func (c *flatVirtualCache) Push() { c.frames = append(c.frames, len(c.entries)) }

func (c *flatVirtualCache) Pop() {
	if len(c.frames) == 1 {
		return
	}
	start := c.frames[len(c.frames)-1]
	c.frames = c.frames[:len(c.frames)-1]
	for i := len(c.entries) - 1; i >= start; i-- {
		e := &c.entries[i]
		if e.prev >= 0 {
			c.index[e.hash] = e.prev
		} else {
			delete(c.index, e.hash)
		}
		*e = cacheEntry{}
	}
	c.entries = c.entries[:start]
}

// find returns the entry for ref in the top frame, or nil.
func (c *flatVirtualCache) find(ref ast.Ref, h int) *cacheEntry {
	start := c.frames[len(c.frames)-1]
	i, ok := c.index[h]
	for ok && i >= start {
		e := &c.entries[i]
		if e.ref.Equal(ref) {
			return e
		}
		i, ok = e.prev, e.prev >= 0
	}
	return nil
}

func (c *flatVirtualCache) Get(ref ast.Ref) (*ast.Term, bool) {
	e := c.find(ref, ref.Hash())
	if e == nil {
		return nil, false
	}
	if e.undefined {
		return nil, true
	}
	return e.value, false
}

func (c *flatVirtualCache) Put(ref ast.Ref, value *ast.Term) {
	h := ref.Hash()
	e := c.find(ref, h)
	if e == nil {
		prev, ok := c.index[h]
		if !ok {
			prev = -1
		}
		n := len(c.arena)
		c.arena = append(c.arena, ref...)
		c.entries = append(c.entries, cacheEntry{ref: ast.Ref(c.arena[n:len(c.arena):len(c.arena)]), hash: h, prev: prev})
		c.index[h] = len(c.entries) - 1
		e = &c.entries[len(c.entries)-1]
	}
	if value != nil {
		e.value = value
	} else {
		e.undefined = true
	}
}

func (c *flatVirtualCache) Keys() []ast.Ref {
	var keys []ast.Ref
	for _, e := range c.entries[c.frames[len(c.frames)-1]:] {
		if e.value != nil {
			keys = append(keys, e.ref)
		}
	}
	return keys
}
