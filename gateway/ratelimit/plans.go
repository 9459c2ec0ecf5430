package ratelimit

import (
	"math"

	"github.com/open-policy-agent/opa/v1/ast"
)

// planTable is the bundle data stage 2 reads, once per generation:
//
//	data.gatehouse.plans = {"gold": {"requests_per_second": 100, "burst": 200}, ...}
//	data.gatehouse.config.default_plan = "bronze"      # optional
//	data.gatehouse.subscriptions[source][app] = [{"api": .., "version": .., "plan": ..}]
//
// Applications are qualified by their identity source, in subscriptions
// as in buckets: an application id is only unique within the issuer or key
// manager that issued it (subscriptions.rego).
type planTable struct {
	plans       map[string]rateSpec
	defaultPlan string
	subs        map[sourceApp][]planSub
}

// sourceApp is an application qualified by its identity source.
type sourceApp struct{ source, app string }

type planSub struct{ api, version, plan string }

// buildPlanTable returns nil without plans.
func buildPlanTable(data map[string]any) *planTable {
	gh, _ := data["gatehouse"].(map[string]any)
	plans, _ := gh["plans"].(map[string]any)
	if len(plans) == 0 {
		return nil
	}
	t := &planTable{plans: map[string]rateSpec{}, subs: map[sourceApp][]planSub{}}
	for name, v := range plans {
		p, _ := v.(map[string]any)
		rps, ok1 := number(p["requests_per_second"])
		burst, ok2 := number(p["burst"])
		if ok1 && ok2 && rps > 0 && burst >= 1 {
			t.plans[name] = rateSpec{rate: rps, burst: int(math.Min(burst, math.MaxInt32))}
		}
	}
	if cfg, ok := gh["config"].(map[string]any); ok {
		t.defaultPlan, _ = cfg["default_plan"].(string)
	}
	bySource, _ := gh["subscriptions"].(map[string]any)
	for source, v := range bySource {
		apps, _ := v.(map[string]any)
		for app, v := range apps {
			list, _ := v.([]any)
			k := sourceApp{source, app}
			for _, e := range list {
				s, _ := e.(map[string]any)
				api, _ := s["api"].(string)
				version, _ := s["version"].(string)
				plan, _ := s["plan"].(string)
				t.subs[k] = append(t.subs[k], planSub{api, version, plan})
			}
		}
	}
	return t
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case interface{ Float64() (float64, error) }: // json.Number
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

var (
	kApplication = ast.InternedTerm("application")
	kClientID    = ast.InternedTerm("client_id")
	kSubject     = ast.InternedTerm("subject")
	kSource      = ast.InternedTerm("source")
	kPlan        = ast.InternedTerm("plan")
)

func str(o ast.Object, k *ast.Term) string {
	if t := o.Get(k); t != nil {
		if s, ok := t.Value.(ast.String); ok {
			return string(s)
		}
	}
	return ""
}

// limitFor returns the bucket key and shape of a principal calling api at
// version.
// The plan: the application's first subscription to this API (as
// subscriptions.rego picks it), else the credential's own plan, else the
// default plan. No plan, or a plan data.gatehouse.plans does not size: no
// limit. Applications and clients are counted per source: the
// "pets-client" of one issuer never spends another issuer's
// "pets-client"'s requests.
func (t *planTable) limitFor(api, version string, principal ast.Object) (string, rateSpec, bool) {
	app, source := str(principal, kApplication), str(principal, kSource)
	var who, plan string
	switch {
	case app != "":
		who = "app:" + source + "/" + app
		for _, s := range t.subs[sourceApp{source, app}] {
			if s.api == api && (s.version == "" || s.version == version) {
				plan = s.plan
				break
			}
		}
	case str(principal, kClientID) != "":
		who = "client:" + source + "/" + str(principal, kClientID)
	case str(principal, kSubject) != "":
		who = "sub:" + str(principal, kSource) + "/" + str(principal, kSubject)
	default:
		return "", rateSpec{}, false
	}
	if plan == "" {
		plan = str(principal, kPlan)
	}
	if plan == "" {
		plan = t.defaultPlan
	}
	s, ok := t.plans[plan]
	if !ok {
		return "", rateSpec{}, false
	}
	return "plan:" + plan + ":" + api + "/" + version + ":" + who, s, true
}
