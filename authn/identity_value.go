package authn

import (
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
)

// identityValue is what an identity memoizes for the policy: its claims'
// value (nil when it has none) and its document as an OPA value (empty until
// AST builds it).
type identityValue struct {
	claims ast.Value
	doc    atomic.Value // ast.Value
}

// AST returns the identity document as an OPA value. It is built once and
// kept until ReleaseValue, so a cached identity costs nothing to put into
// the next request's input; after ReleaseValue the next call builds it
// again (the claims from their JSON). Concurrent callers may each build it;
// every build is equal.
func (id *Identity) AST() ast.Value {
	v := id.value.Load()
	if v == nil {
		v = &identityValue{claims: id.claimsValue()}
		id.value.Store(v)
	} else if doc, _ := v.doc.Load().(ast.Value); doc != nil {
		return doc
	}
	doc := id.buildAST(v.claims)
	v.doc.Store(doc)
	return doc
}

// ReleaseValue drops the memoized value of AST. The decision cache
// (gateway/pipeline/cache.go) calls it once it holds the decisions the
// value was built for: a repeated credential then hits that cache and never
// reads the value, which was ~2.2 KB of the ~3.8 KB a cached credential
// kept alive (gateway BenchmarkMemory, 100,000 credentials), and a miss (a
// new operation, a cleared shard) rebuilds it in a few microseconds.
func (id *Identity) ReleaseValue() { id.value.Store(nil) }
