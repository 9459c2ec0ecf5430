package bundles

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Decision is data.gatehouse.authz.decision in Go form; schemas/decision.schema.json
// is its contract.
type Decision struct {
	Allow          bool              `json:"allow"`
	Reasons        []string          `json:"reasons"`
	Alternative    int               `json:"alternative"`
	Schemes        []string          `json:"schemes,omitempty"`
	Principal      map[string]any    `json:"principal,omitempty"`
	RequiredScopes []string          `json:"required_scopes,omitempty"`
	Rejected       map[string]string `json:"rejected,omitempty"`
	Headers        map[string]string `json:"headers,omitempty"`
	Status         int               `json:"status,omitempty"`
	// Raw is the decision object exactly as the policy returned it.
	Raw map[string]any `json:"-"`
}

func decisionFrom(m map[string]any) (*Decision, error) {
	d := &Decision{Alternative: -1, Raw: m}
	allow, ok := m["allow"].(bool)
	if !ok {
		return nil, fmt.Errorf("%w: decision.allow is %T, not a boolean", ErrEval, m["allow"])
	}
	d.Allow = allow
	d.Reasons = stringList(m["reasons"])
	sort.Strings(d.Reasons)
	if n, ok := m["alternative"].(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			d.Alternative = int(i)
		}
	}
	d.Schemes = stringList(m["schemes"])
	d.Principal, _ = m["principal"].(map[string]any)
	d.RequiredScopes = stringList(m["required_scopes"])
	if rj, ok := m["rejected"].(map[string]any); ok {
		d.Rejected = make(map[string]string, len(rj))
		for k, v := range rj {
			if s, ok := v.(string); ok {
				d.Rejected[k] = s
			}
		}
	}
	if h, ok := m["headers"].(map[string]any); ok && len(h) > 0 {
		d.Headers = make(map[string]string, len(h))
		for k, v := range h {
			if s, ok := v.(string); ok {
				d.Headers[k] = s
			}
		}
	}
	if n, ok := m["status"].(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			d.Status = int(i)
		}
	}
	// A decision that allows while listing reasons is contradictory: fail closed.
	if d.Allow && len(d.Reasons) > 0 {
		d.Allow = false
	}
	return d, nil
}

func stringList(v any) []string {
	arr, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
