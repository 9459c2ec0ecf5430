package bundles

import (
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The bodies of a non-public operation's plan (plan.go), in the order the
// evaluator tries them: an allow per alternative, insufficient_scope, then
// the two denials without a verified credential. Each states its conditions
// against policies/gatehouse/authz (decision.rego, requirements.rego,
// principal.rego, revocation.rego and the deny_reasons files).

func (pc *planContext) authBodies(op opShape) []string {
	var bodies []string
	anonymous := -1
	for k, alt := range op.security {
		if len(alt.schemes) == 0 {
			if anonymous < 0 {
				anonymous = k
			}
			continue
		}
		if b := pc.allowBody(op, k); b != "" {
			bodies = append(bodies, b)
		}
	}
	if anonymous >= 0 {
		// No credential, nothing rejected: the first {} is the satisfied
		// alternative (requirements.rego, alternative), with no scheme and
		// no principal; no deny_reasons rule of the base policy fires
		// without a credential or a scheme.
		bodies = append(bodies, pc.body(pc.allow(fmt.Sprintf(
			`{"allow": true, "reasons": [], "alternative": %d, "schemes": [], "principal": {}}`, anonymous)),
			"input.credentials == {}", "input.rejections == {}"))
	}
	if pc.shapedDeny {
		return bodies
	}
	if anonymous >= 0 {
		// Unsatisfied credentials allow with {}; a rejected one may fall
		// through to it (allow_fallthrough): the full decision answers.
		return bodies
	}
	seen := map[string]bool{}
	for k, alt := range op.security {
		if key := strings.Join(alt.schemes, "\x00"); !seen[key] {
			seen[key] = true
			if b := pc.insufficientBody(op, k); b != "" {
				bodies = append(bodies, b)
			}
		}
	}
	// No credential, nothing rejected: credentials_missing (no alternative
	// is present; deny_reasons of the base policy all need a credential or
	// a satisfied alternative).
	bodies = append(bodies, pc.body(`{"allow": false, "reasons": ["credentials_missing"], "alternative": -1}`,
		"input.credentials == {}", "input.rejections == {}"))
	// One rejected credential of the operation and no verified one:
	// credentials_invalid (no alternative can be satisfied, so no
	// fallthrough), with the rejection in the challenge.
	for _, s := range schemesOf(op) {
		bodies = append(bodies, pc.body(
			fmt.Sprintf(`{"allow": false, "reasons": ["credentials_invalid"], "alternative": -1, "rejected": {%s: reason}}`, quote(s)),
			"input.credentials == {}",
			"count(input.rejections) == 1",
			fmt.Sprintf("reason := input.rejections[%s].reason", quote(s)),
			`reason != "revoked"`))
	}
	return bodies
}

// schemesOf lists the schemes the operation's alternatives name, sorted.
func schemesOf(op opShape) []string {
	var out []string
	for _, alt := range op.security {
		for _, s := range alt.schemes {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}

// allowBody allows with alternative k when exactly its credentials were
// verified, nothing was rejected, they carry the scopes, and nothing revokes
// or denies them. Every earlier alternative that names a scheme outside
// alternative k is then unsatisfied, so k is the minimum of satisfied; when
// an earlier one names only schemes of k, there is no body (the full
// decision answers).
func (pc *planContext) allowBody(op opShape, k int) string {
	alt := op.security[k]
	for _, prev := range op.security[:k] {
		if len(prev.schemes) == 0 {
			continue
		}
		outside := false
		for _, s := range prev.schemes {
			outside = outside || !slices.Contains(alt.schemes, s)
		}
		if !outside {
			return ""
		}
	}
	conds := credentialBindings(alt)
	for i, s := range alt.schemes {
		c := fmt.Sprintf("c%d", i)
		scopes := alt.scopes[s]
		switch {
		case !op.scopeAny:
			for _, sc := range scopes {
				conds = append(conds, fmt.Sprintf("%s in %s.scopes", quote(sc), c))
			}
		case len(scopes) == 1:
			conds = append(conds, fmt.Sprintf("%s in %s.scopes", quote(scopes[0]), c))
		case len(scopes) > 1:
			conds = append(conds, fmt.Sprintf("data.gatehouse.authz.holds_any_scope(%s, %s)", c, quoteList(scopes)))
		}
	}
	conds = append(conds, pc.credentialChecks(op, alt)...)
	principal := "c0"
	if len(alt.schemes) > 1 {
		// principal.rego, primary_scheme: the lowest [rank of the
		// credential's type, scheme name]. The rank each scheme's
		// credentials have is known from the scheme's type; the body
		// checks it by comparing the credential's type with the types of
		// that rank in type_rank (a plain comparison, where a lookup in
		// type_rank cost 7 allocations; any other type gives way) and
		// names the principal.
		best := 0
		for i, s := range alt.schemes {
			types := pc.typesOfRank[op.rank[s]]
			switch len(types) {
			case 0:
				return ""
			case 1:
				conds = append(conds, fmt.Sprintf("c%d.type == %s", i, quote(types[0])))
			default:
				conds = append(conds, fmt.Sprintf("c%d.type in {%s}", i, strings.Trim(quoteList(types), "[]")))
			}
			if op.rank[s] < op.rank[alt.schemes[best]] {
				best = i
			}
		}
		principal = fmt.Sprintf("c%d", best)
	}
	value := pc.allow(fmt.Sprintf(`{"allow": true, "reasons": [], "alternative": %d, "schemes": %s, "principal": %s}`,
		k, quoteList(alt.schemes), principal))
	return pc.body(value, conds...)
}

// insufficientBody denies with insufficient_scope when exactly the
// credentials of alternative k were verified, nothing was rejected, nothing
// revokes or denies them, and every alternative they present (those whose
// schemes are all among k's: requirements.rego, present_alternatives) lacks
// a scope. required_scopes is then every scope of the first of those,
// sorted. The operation has no anonymous alternative (authBodies).
func (pc *planContext) insufficientBody(op opShape, k int) string {
	alt := op.security[k]
	conds := credentialBindings(alt)
	first := -1
	for j, other := range op.security {
		present := true
		for _, s := range other.schemes {
			present = present && slices.Contains(alt.schemes, s)
		}
		if !present {
			continue
		}
		if first < 0 {
			first = j
		}
		lacks := pc.lacks(op, alt, other)
		if lacks == "" {
			return ""
		}
		conds = append(conds, lacks)
	}
	var required []string
	for _, s := range op.security[first].schemes {
		for _, sc := range op.security[first].scopes[s] {
			if !slices.Contains(required, sc) {
				required = append(required, sc)
			}
		}
	}
	if len(required) == 0 {
		return "" // the first present alternative needs no scope: satisfied
	}
	slices.Sort(required)
	conds = append(conds, pc.credentialChecks(op, alt)...)
	return pc.body(fmt.Sprintf(`{"allow": false, "reasons": ["insufficient_scope"], "alternative": -1, "required_scopes": %s}`,
		quoteList(required)), conds...)
}

// lacks is the condition that alternative other, whose schemes all have a
// credential among alt's (bound to c<i> in alt.schemes order), is not
// satisfied (requirements.rego, satisfied); "" when it cannot be written.
func (pc *planContext) lacks(op opShape, alt, other alternative) string {
	cred := func(s string) string { return fmt.Sprintf("c%d", slices.Index(alt.schemes, s)) }
	switch {
	case !op.scopeAny && len(other.schemes) == 1:
		s := other.schemes[0]
		return fmt.Sprintf("data.gatehouse.authz.lacks_scope(%s, %s)", cred(s), quoteList(other.scopes[s]))
	case !op.scopeAny:
		parts := make([]string, len(other.schemes))
		for i, s := range other.schemes {
			parts[i] = quote(s) + ": " + quoteList(other.scopes[s])
		}
		return "data.gatehouse.authz.unmet({" + strings.Join(parts, ", ") + "})"
	case len(other.schemes) == 1:
		s := other.schemes[0]
		return fmt.Sprintf("not data.gatehouse.authz.holds_any_scope(%s, %s)", cred(s), quoteList(other.scopes[s]))
	}
	return ""
}

// credentialBindings requires that nothing was rejected and exactly the
// credentials of alt were verified, and binds c<i> to that of alt.schemes[i].
func credentialBindings(alt alternative) []string {
	conds := []string{"input.rejections == {}", fmt.Sprintf("count(input.credentials) == %d", len(alt.schemes))}
	for i, s := range alt.schemes {
		conds = append(conds, fmt.Sprintf("c%d := input.credentials[%s]", i, quote(s)))
	}
	return conds
}

// credentialChecks checks that no credential c<i> of alt is revoked and,
// unless the plan counts deny_reasons itself (genericDeny), that no
// deny_reasons rule of the base policy fires for it: subscription
// validation only with a subscription (without subscription data the full
// decision answers), no certificate binding (the full decision answers),
// and an API key only with api_key_allowed.
func (pc *planContext) credentialChecks(op opShape, alt alternative) []string {
	// Comparisons first, calls after: a credential the plan gives way on
	// (a certificate binding, say) then costs the full decision little more.
	var cheap, calls []string
	for i, s := range alt.schemes {
		c := fmt.Sprintf("c%d", i)
		if !pc.genericDeny {
			cheap = append(cheap, "object.get("+c+`, "confirmation", false) == false`)
			if op.apiKeyish[s] {
				cheap = append(cheap, c+`.type == "api_key"`)
				calls = append(calls, "data.gatehouse.authz.api_key_allowed("+c+")")
			} else {
				cheap = append(cheap, c+`.type != "api_key"`)
			}
			if pc.subscriptions {
				calls = append(calls, "not data."+planPackage+".unsubscribed("+c+")")
			} else {
				cheap = append(cheap, "object.get("+c+`, "subscription_validation", false) != true`)
			}
		}
		if pc.revoked != "" {
			calls = append(calls, "not "+pc.revoked+"("+c+")")
		}
	}
	return append(cheap, calls...)
}

// maxCutoffBodies bounds the revoked bodies written per source with an
// issued_before cutoff; more sources share revocation.rego's lookup.
const maxCutoffBodies = 16

// revocationHelper returns the function the plans call to check a
// credential's revocation and, when it is the plans' own, its Rego:
// revocation.rego's revoked_credential with the bundle's issued_before
// cutoffs written in, one body per source that compares cred.source first.
// revoked_credential itself looks the cutoff up for every credential (13
// allocations per credential checked, 9 this way: policies/bench_test.go,
// BenchmarkDecisionEngine). "" when the data revokes nothing.
func revocationHelper(data map[string]any) (call, src string) {
	rev, ok := lookup(data, "gatehouse", "revocations").(map[string]any)
	if !ok {
		if lookup(data, "gatehouse", "revocations") != nil {
			return "data.gatehouse.authz.revoked_credential", ""
		}
		return "", ""
	}
	var b strings.Builder
	if _, ok := rev["jti"]; ok {
		b.WriteString("revoked(cred) if {\n\t_ = data.gatehouse.revocations.jti[cred.token_id]\n}\n\n")
	}
	if ib, ok := rev["issued_before"]; ok {
		cutoffs, ok := ib.(map[string]any)
		if !ok || len(cutoffs) > maxCutoffBodies {
			b.WriteString("revoked(cred) if {\n\tcutoff := data.gatehouse.revocations.issued_before[cred.source]\n" +
				"\tnot data.gatehouse.authz.issued_since(cred, cutoff)\n}\n\n")
		} else {
			sources := make([]string, 0, len(cutoffs))
			for k := range cutoffs {
				sources = append(sources, k)
			}
			slices.Sort(sources)
			for _, source := range sources {
				v, err := ast.InterfaceToValue(cutoffs[source])
				if err != nil {
					return "data.gatehouse.authz.revoked_credential", ""
				}
				fmt.Fprintf(&b, "revoked(cred) if {\n\tcred.source == %s\n\tnot data.gatehouse.authz.issued_since(cred, %v)\n}\n\n", quote(source), v)
			}
		}
	}
	if b.Len() == 0 {
		return "", ""
	}
	return "data." + planPackage + ".revoked", b.String()
}

// unsubscribedSrc is subscriptions.rego's deny_reasons rule for one
// credential, for plans of bundles with subscription data.
const unsubscribedSrc = `unsubscribed(cred) if {
	cred.subscription_validation == true
	not data.gatehouse.authz.subscribed(cred)
}
`
