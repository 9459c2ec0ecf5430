package bundles

import (
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// A plan is the base policy's decision specialised to one operation: what
// OPA's partial evaluation would leave of data.gatehouse.authz.decision with
// input.api, input.operation, input.schemes and the bundle data known, for
// the shapes a gateway decides most (one alternative's credentials and
// nothing else; no credential; one rejected credential). OPA does not
// partially evaluate rules with else (topdown/eval.go saves them whole), and
// the base decision is an else chain, so the residual is written here, at
// generation build, as one Rego rule per operation shape:
//
//	decision := <allow> if { <checks of the credentials> }
//	else := <deny> if { ... }
//	else := data.gatehouse.authz.decision
//
// Every body yields exactly what data.gatehouse.authz.full_decision yields
// for the inputs it applies to and gives way to the full decision otherwise
// (several credentials beyond one alternative, revocation, subscription
// validation, certificate binding, custom deny reasons, ...). The checks call
// the base policy's own functions wherever its semantics are not a plain
// lookup (revoked_credential, api_key_allowed, lacks_scope, unmet,
// holds_any_scope), so a change there reaches the plans too.
// gateway/policy_differential_test.go compares plans with full_decision on
// generated inputs for every quickstart and test operation.
//
// Plans are built only when everything they take as known is known: the base
// policy is loaded, no user module defines rules under data.gatehouse except
// in gatehouse.custom, and the base policy's deny_reasons rules are the ones
// listed in baseDenyReasons. User rules keep working unchanged: when users'
// rules define data.gatehouse.custom.deny every body also requires that set
// to be empty (and when data does, count(deny_reasons) == 0); when custom
// headers, response headers
// or request headers to remove are defined an allow adds full_decision's
// allow_extras, and when response headers are, the plans only allow (a
// denial carries them too: the full decision answers).

// Operation is the part of the policy input fixed per operation, exactly as
// the gateway sends it: input.api, input.operation and input.schemes.
type Operation struct {
	API, Operation, Schemes *ast.Term
}

// Plan is an operation's specialised decision query; a nil *Plan is the full
// query.
type Plan struct {
	q *directQuery
}

// planPackage is where plan modules live: under the base policy's package,
// which user bundles may not declare (source.go, checkSources).
const planPackage = "gatehouse.authz.plans"

// baseDenyReasons counts the deny_reasons rules of each base policy file
// that the plans' inline checks stand for (subscriptions, apikeys, binding)
// or take as known (same_principal and binding's second rule read
// data.gatehouse.config per API; custom reads data.gatehouse.custom.deny).
// A base policy whose deny_reasons differ gets no plans: a new rule must be
// mirrored in credentialChecks (plan_bodies.go) first.
var baseDenyReasons = map[string]int{
	"builtin:gatehouse/authz/subscriptions.rego":  1,
	"builtin:gatehouse/authz/apikeys.rego":        1,
	"builtin:gatehouse/authz/binding.rego":        2,
	"builtin:gatehouse/authz/same_principal.rego": 1,
	"builtin:gatehouse/authz/custom.rego":         2,
}

var (
	gatehouseRef  = ast.MustParseRef("data.gatehouse")
	customRef     = ast.MustParseRef("data.gatehouse.custom")
	authzRef      = ast.MustParseRef("data.gatehouse.authz")
	denyReasonsNm = ast.Var("deny_reasons")
	typeRankNm    = ast.Var("type_rank")
)

// planContext is what every plan of one engine takes as known.
type planContext struct {
	data map[string]any
	// denyCheck is the condition every body adds for users' deny rules:
	// none without any; the deny set is empty when only rules define it
	// (they must define a set: custom.rego); else no deny reason at all
	// (genericDeny), which makes the base policy's own checks redundant.
	denyCheck   string
	genericDeny bool
	// typesOfRank lists the identity types of each principal rank
	// (principal.rego, type_rank), sorted.
	typesOfRank map[int][]string
	// shapedAllow: users' headers, response headers or request headers to
	// remove may be defined, which an allow carries (allow_extras);
	// shapedDeny: response headers may be, which a denial carries too.
	shapedAllow, shapedDeny bool
	// subscriptions: the bundle has subscription data, so credentials
	// with subscription validation are checked (unsubscribedSrc) rather
	// than left to the full decision.
	subscriptions bool
	// revoked is the function that says a credential is revoked, and
	// revokedSrc its Rego when the plans define it (revocationHelper).
	revoked, revokedSrc string
}

// newPlanContext returns the context plans are built in, or nil when the
// modules and data leave nothing to take as known (see the package comment
// above).
func newPlanContext(modules map[string]*ast.Module, data map[string]any) *planContext {
	deny := map[string]int{}
	defined := map[string]bool{}
	var ranks ast.Object
	for name, m := range modules {
		builtin := strings.HasPrefix(name, "builtin:")
		path := m.Package.Path
		switch {
		case path.HasPrefix(customRef):
			if len(path) > len(customRef) {
				defined[string(path[len(customRef)].Value.(ast.String))] = true
			}
			for _, r := range m.Rules {
				if len(path) == len(customRef) {
					defined[r.Head.Ref()[0].Value.String()] = true
				}
			}
		case path.HasPrefix(gatehouseRef) && !builtin:
			return nil
		case path.Equal(authzRef):
			for _, r := range m.Rules {
				if r.Head.Ref()[0].Value.Compare(denyReasonsNm) == 0 {
					deny[name]++
				}
				if r.Head.Ref()[0].Value.Compare(typeRankNm) == 0 && r.Head.Value != nil {
					ranks, _ = r.Head.Value.Value.(ast.Object)
				}
			}
		}
	}
	if len(deny) != len(baseDenyReasons) {
		return nil
	}
	for f, n := range baseDenyReasons {
		if deny[f] != n {
			return nil
		}
	}
	// Quoted names: a rule head is printed as a var, a data key as is.
	isDefined := func(k string) bool { return defined[k] || defined[`"`+k+`"`] }
	denyRules := isDefined("deny")
	denyData := false
	if custom, ok := lookup(data, "gatehouse", "custom").(map[string]any); ok {
		for k := range custom {
			defined[k] = true
		}
		_, denyData = custom["deny"]
	}
	pc := &planContext{data: data, typesOfRank: map[int][]string{}}
	switch {
	case denyData: // any value, a boolean too (custom.rego, is_true)
		pc.denyCheck, pc.genericDeny = "count(data.gatehouse.authz.deny_reasons) == 0", true
	case denyRules:
		pc.denyCheck = "count(data.gatehouse.custom.deny) == 0"
	}
	for _, shaped := range []string{"headers", "response_headers", "request_headers_to_remove"} {
		pc.shapedAllow = pc.shapedAllow || isDefined(shaped)
	}
	pc.shapedDeny = isDefined("response_headers")
	if ranks != nil {
		ranks.Foreach(func(k, v *ast.Term) {
			t, ok1 := k.Value.(ast.String)
			n, ok2 := v.Value.(ast.Number)
			r, ok3 := n.Int()
			if ok1 && ok2 && ok3 {
				pc.typesOfRank[r] = append(pc.typesOfRank[r], string(t))
			}
		})
	}
	for _, types := range pc.typesOfRank {
		slices.Sort(types)
	}
	pc.revoked, pc.revokedSrc = revocationHelper(data)
	pc.subscriptions = lookup(data, "gatehouse", "subscriptions") != nil
	return pc
}

// lookup walks nested maps; nil when a step is missing.
func lookup(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// opShape is what a plan reads of an Operation.
type opShape struct {
	api       string
	public    bool
	scopeAny  bool
	security  []alternative
	apiKeyish map[string]bool // schemes of OpenAPI type apiKey
	// rank is the principal rank (principal.rego, type_rank) of the
	// identities each scheme verifies: 1 for client certificates, 2 for
	// Basic, 0 for tokens and API keys.
	rank map[string]int
}

type alternative struct {
	schemes []string            // sorted
	scopes  map[string][]string // scheme → required scopes, as declared
}

// shapeOf reads op, or returns false when it is not of the expected form.
func shapeOf(op Operation) (opShape, bool) {
	var s opShape
	api, ok1 := op.API.Value.(ast.Object)
	o, ok2 := op.Operation.Value.(ast.Object)
	schemes, ok3 := op.Schemes.Value.(ast.Object)
	if !ok1 || !ok2 || !ok3 {
		return s, false
	}
	name, ok := termString(api.Get(ast.InternedTerm("name")))
	if !ok {
		return s, false
	}
	s.api = name
	pub, ok := memberValue(o, "public").(ast.Boolean)
	if !ok {
		return s, false
	}
	s.public = bool(pub)
	mode, _ := termString(o.Get(ast.InternedTerm("scope_mode")))
	s.scopeAny = mode == "any"
	sec, ok := memberValue(o, "security").(*ast.Array)
	if !ok {
		return s, false
	}
	for i := range sec.Len() {
		obj, ok := sec.Elem(i).Value.(ast.Object)
		if !ok {
			return s, false
		}
		alt := alternative{scopes: map[string][]string{}}
		for _, k := range obj.Keys() {
			scheme, ok := termString(k)
			arr, ok2 := obj.Get(k).Value.(*ast.Array)
			if !ok || !ok2 {
				return s, false
			}
			var scopes []string
			for j := range arr.Len() {
				sc, ok := termString(arr.Elem(j))
				if !ok {
					return s, false
				}
				scopes = append(scopes, sc)
			}
			alt.schemes = append(alt.schemes, scheme)
			alt.scopes[scheme] = scopes
		}
		slices.Sort(alt.schemes)
		s.security = append(s.security, alt)
	}
	s.apiKeyish, s.rank = map[string]bool{}, map[string]int{}
	for _, k := range schemes.Keys() {
		name, _ := termString(k)
		def, ok := schemes.Get(k).Value.(ast.Object)
		if !ok {
			continue
		}
		t, _ := termString(def.Get(ast.InternedTerm("type")))
		h, _ := termString(def.Get(ast.InternedTerm("scheme")))
		switch {
		case t == "apiKey":
			s.apiKeyish[name] = true
		case t == "mutualTLS":
			s.rank[name] = 1
		case t == "http" && strings.EqualFold(h, "basic"):
			s.rank[name] = 2
		}
	}
	return s, true
}

// memberValue is obj[key], nil when absent.
func memberValue(obj ast.Object, key string) ast.Value {
	if t := obj.Get(ast.InternedTerm(key)); t != nil {
		return t.Value
	}
	return nil
}

func termString(t *ast.Term) (string, bool) {
	if t == nil {
		return "", false
	}
	s, ok := t.Value.(ast.String)
	return string(s), ok
}

func quote(s string) string { return ast.StringTerm(s).String() }

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// planSource is the Rego of op's plan in package pkg, or "" when no body of
// it would apply (the operation is better served by the full query).
func (pc *planContext) planSource(pkg string, op opShape) string {
	// Per-API data the plans take as absent.
	for _, k := range []string{"require_certificate_binding", "same_principal"} {
		if m, ok := lookup(pc.data, "gatehouse", "config", k).(map[string]any); ok {
			if _, ok := m[op.api]; ok {
				return ""
			}
		}
	}
	var bodies []string
	switch {
	case op.public:
		if len(op.security) > 0 {
			return ""
		}
		bodies = append(bodies, pc.body(pc.allow(`{"allow": true, "reasons": [], "alternative": -1, "schemes": [], "principal": {}}`),
			"input.credentials == {}", "input.rejections == {}"))
	case len(op.security) == 0:
		return ""
	default:
		bodies = pc.authBodies(op)
	}
	if len(bodies) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "package %s\n\ndecision := ", pkg)
	for i, body := range bodies {
		if i > 0 {
			b.WriteString(" else := ")
		}
		b.WriteString(body)
	}
	b.WriteString(" else := data.gatehouse.authz.decision\n")
	return b.String()
}

// sharedSource is the module of what every plan shares, in planPackage: the
// helper functions the bodies call, and an anchor for OPA's type checker.
// OPA v1.22's checker (ast/check.go, isReplaced) walks every module for
// `with` targets for each rule whose value holds an empty collection, again
// and again as long as no `with` replaces any rule; every plan's decision
// holds one ("reasons": []), so building 100 plans cost 200 ms. anchored
// (never evaluated by the gateway) replaces one rule, and the checker then
// walks the modules once.
func (pc *planContext) sharedSource() string {
	var b strings.Builder
	b.WriteString("package " + planPackage + "\n\nanchor := true\n\nanchored if anchor with data." + planPackage + ".anchor as true\n\n")
	if pc.revokedSrc != "" {
		b.WriteString(pc.revokedSrc)
	}
	if pc.subscriptions {
		b.WriteString(unsubscribedSrc)
	}
	return b.String()
}

// allow is the value of an allowing body: full_decision's, whose extras
// (decision.rego, allow_extras) are empty unless users shape the answer.
func (pc *planContext) allow(value string) string {
	if pc.shapedAllow {
		return "object.union(" + value + ", data.gatehouse.authz.allow_extras)"
	}
	return value
}

// body is one `value if { conds }` of the chain, with the generic deny
// reasons check when users' deny rules may add reasons.
func (pc *planContext) body(value string, conds ...string) string {
	if pc.denyCheck != "" {
		conds = append(conds, pc.denyCheck)
	}
	return value + " if {\n\t" + strings.Join(conds, "\n\t") + "\n}"
}
