package pipeline

import (
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse/gatehouse/bundles"
)

// A cached decision used to keep, per credential, its own decision object
// (~600 bytes: the Decision, its value and its members) and, through its
// principal, the credential's whole identity document as an OPA value
// (~2.2 KB with its claims): most of the ~3.8 KB a cached credential cost
// (gateway BenchmarkMemory, 100,000 credentials). The decisions of a
// generation take few distinct shapes besides their principal (one allow
// per operation and scheme, a few denials), so the cache keeps one template
// per shape and, per credential, only which identity is the principal.

// principalKey is the decision member the templates leave out.
var principalKey = ast.StringTerm("principal")

// maxTemplates bounds the distinct decisions kept as templates; past it
// (a custom policy that answers every credential differently) decisions are
// cached whole, as they were before templates.
const maxTemplates = 4096

// templates are the shared decisions of one cache, by the hash of their
// value without the principal.
type templates struct {
	mu sync.RWMutex
	m  map[int][]template
	n  int
}

// template is a shared decision and the keys of its value (looked up
// without a closure: a first-seen credential's Put allocates nothing here).
type template struct {
	d    *bundles.Decision
	keys []*ast.Term
}

// principalPosition is the position in k of the identity whose document is
// d's principal, or -1 when d has no principal or it is no identity's
// document (a custom policy's own object).
func principalPosition(k Key, d *bundles.Decision) int {
	if d.Principal == nil {
		return -1
	}
	if obj, ok := d.Value.(ast.Object); !ok || obj.Get(principalKey) == nil {
		return -1
	}
	for i, id := range k.ids {
		if id == nil {
			continue
		}
		// The input the engine decided on holds id.AST() itself; another
		// engine may have rebuilt an equal value.
		if v := id.AST(); v == ast.Value(d.Principal) || v.Compare(d.Principal) == 0 {
			return i
		}
	}
	return -1
}

// of returns the template of d, a decision with a principal: the shared one
// with the same members, made on first use; nil once the bound is reached.
func (t *templates) of(d *bundles.Decision) *bundles.Decision {
	obj := d.Value.(ast.Object)
	// An object's hash is the sum of its members' key and value hashes.
	h := obj.Hash() - principalKey.Hash() - obj.Get(principalKey).Hash()
	t.mu.RLock()
	tmpl := t.find(h, obj)
	t.mu.RUnlock()
	if tmpl != nil {
		return tmpl
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if tmpl = t.find(h, obj); tmpl != nil || t.n >= maxTemplates {
		return tmpl
	}
	tmpl = withoutPrincipal(d, obj)
	t.m[h] = append(t.m[h], template{d: tmpl, keys: tmpl.Value.(ast.Object).Keys()})
	t.n++
	return tmpl
}

// find returns the template under h whose members are obj's but its
// principal. Callers hold t.mu.
func (t *templates) find(h int, obj ast.Object) *bundles.Decision {
	for _, tmpl := range t.m[h] {
		if len(tmpl.keys) != obj.Len()-1 {
			continue
		}
		tv := tmpl.d.Value.(ast.Object)
		same := true
		for _, k := range tmpl.keys {
			if o := obj.Get(k); o == nil || o.Value.Compare(tv.Get(k).Value) != 0 {
				same = false
				break
			}
		}
		if same {
			return tmpl.d
		}
	}
	return nil
}

// withoutPrincipal is d without its principal: Principal nil, Value
// without the member. The other fields are d's (decisionFrom derives every
// one of them from the value, so equal values mean equal decisions).
func withoutPrincipal(d *bundles.Decision, obj ast.Object) *bundles.Decision {
	pairs := make([][2]*ast.Term, 0, obj.Len()-1)
	obj.Foreach(func(k, v *ast.Term) {
		if k.Value.Compare(principalKey.Value) != 0 {
			pairs = append(pairs, [2]*ast.Term{k, v})
		}
	})
	cp := *d
	cp.Principal = nil
	cp.Value = ast.NewObject(pairs...)
	return &cp
}

// Principal is the decision's principal: Decision.Principal, or for a
// decision the cache shares, the document of the identity it names.
func (e *Evaluation) Principal() ast.Object {
	if e.Decision == nil {
		return nil
	}
	if e.principalOf != nil {
		if o, ok := e.principalOf.AST().(ast.Object); ok {
			return o
		}
	}
	return e.Decision.Principal
}

// WholeDecision is the decision as the policy returned it, principal
// included: Decision itself, or for a decision the cache shares, a copy with
// the principal put back (for the decision log and explain, which record
// the policy's whole answer).
func (e *Evaluation) WholeDecision() *bundles.Decision {
	d := e.Decision
	if d == nil || e.principalOf == nil {
		return d
	}
	p := e.Principal()
	obj, ok := d.Value.(ast.Object)
	if p == nil || !ok {
		return d
	}
	pairs := make([][2]*ast.Term, 0, obj.Len()+1)
	obj.Foreach(func(k, v *ast.Term) { pairs = append(pairs, [2]*ast.Term{k, v}) })
	pairs = append(pairs, [2]*ast.Term{principalKey, ast.NewTerm(p)})
	cp := *d
	cp.Principal = p
	cp.Value = ast.NewObject(pairs...)
	return &cp
}
