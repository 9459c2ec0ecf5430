package bundles

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Decision is data.gatehouse.authz.decision in Go form; schemas/decision.schema.json
// is its contract.
type Decision struct {
	Allow          bool              `json:"allow"`
	Reasons        []string          `json:"reasons"`
	Alternative    int               `json:"alternative"`
	Schemes        []string          `json:"schemes,omitempty"`
	Principal      ast.Object        `json:"-"`
	RequiredScopes []string          `json:"required_scopes,omitempty"`
	Rejected       map[string]string `json:"rejected,omitempty"`
	Headers        map[string]string `json:"headers,omitempty"`
	Status         int               `json:"status,omitempty"`
	// ResponseHeaders go to the client (allow or deny), RemoveHeaders are
	// request headers the upstream must not see (allow), Body is a custom
	// denial's JSON body, encoded once here (nil when none, or when over
	// MaxBodyBytes: BodyRefused says so). gateway/pipeline/shape.go
	// validates them before anyone acts on them.
	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
	RemoveHeaders   []string          `json:"request_headers_to_remove,omitempty"`
	Body            []byte            `json:"-"`
	BodyRefused     string            `json:"-"`
	// Value is the decision object exactly as the policy returned it. It is
	// kept as an ast value (no conversion on the hot path); JSON converts it
	// for decision logs and `gatehouse explain`.
	Value ast.Value `json:"-"`
}

// JSON returns the decision as the policy returned it, in Go JSON form.
func (d *Decision) JSON() (any, error) { return ast.JSON(d.Value) }

// Keys of the decision members, made once.
var (
	keyAllow          = ast.InternedTerm("allow")
	keyReasons        = ast.InternedTerm("reasons")
	keyAlternative    = ast.InternedTerm("alternative")
	keySchemes        = ast.InternedTerm("schemes")
	keyPrincipal      = ast.InternedTerm("principal")
	keyRequiredScopes = ast.InternedTerm("required_scopes")
	keyRejected       = ast.InternedTerm("rejected")
	keyHeaders        = ast.InternedTerm("headers")
	keyStatus         = ast.InternedTerm("status")
	keyRespHeaders    = ast.InternedTerm("response_headers")
	keyRemoveHeaders  = ast.InternedTerm("request_headers_to_remove")
	keyBody           = ast.InternedTerm("body")
)

// MaxBodyBytes bounds a custom denial's encoded JSON body.
const MaxBodyBytes = 16 << 10

// decisionFrom reads the members the gateway acts on straight from the ast
// object the policy returned: no conversion of the whole decision to Go maps.
func decisionFrom(v ast.Value) (*Decision, error) {
	obj, ok := v.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("%w: decision is %s, not an object", ErrEval, ast.ValueName(v))
	}
	d := &Decision{Alternative: -1, Value: v}
	allow, ok := get(obj, keyAllow).(ast.Boolean)
	if !ok {
		return nil, fmt.Errorf("%w: decision.allow is %s, not a boolean", ErrEval, valueName(get(obj, keyAllow)))
	}
	d.Allow = bool(allow)
	d.Reasons = stringList(get(obj, keyReasons))
	if len(d.Reasons) > 1 {
		slices.Sort(d.Reasons)
	}
	if n, ok := intOf(get(obj, keyAlternative)); ok {
		d.Alternative = n
	}
	d.Schemes = stringList(get(obj, keySchemes))
	d.Principal, _ = get(obj, keyPrincipal).(ast.Object)
	d.RequiredScopes = stringList(get(obj, keyRequiredScopes))
	d.Rejected = stringMap(get(obj, keyRejected))
	d.Headers = stringMap(get(obj, keyHeaders))
	if n, ok := intOf(get(obj, keyStatus)); ok {
		d.Status = n
	}
	d.ResponseHeaders = stringMap(get(obj, keyRespHeaders))
	d.RemoveHeaders = stringList(get(obj, keyRemoveHeaders))
	if b, ok := get(obj, keyBody).(ast.Object); ok {
		d.Body, d.BodyRefused = encodeBody(b)
	}
	// A decision that allows while listing reasons is contradictory: fail closed.
	if d.Allow && len(d.Reasons) > 0 {
		d.Allow = false
	}
	return d, nil
}

// encodeBody encodes a denial body once per decision (cached decisions
// share it).
func encodeBody(b ast.Object) ([]byte, string) {
	v, err := ast.JSON(b)
	if err != nil {
		return nil, "body is not JSON: " + err.Error()
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, "body is not JSON: " + err.Error()
	}
	if len(raw) > MaxBodyBytes {
		return nil, fmt.Sprintf("body is %d bytes encoded, over %d", len(raw), MaxBodyBytes)
	}
	return raw, ""
}

func get(obj ast.Object, k *ast.Term) ast.Value {
	if t := obj.Get(k); t != nil {
		return t.Value
	}
	return nil
}

func valueName(v ast.Value) string {
	if v == nil {
		return "undefined"
	}
	return ast.ValueName(v)
}

func intOf(v ast.Value) (int, bool) {
	n, ok := v.(ast.Number)
	if !ok {
		return 0, false
	}
	i, ok := n.Int()
	return i, ok
}

// stringList keeps the string elements of an array or set. (An index loop
// over arrays rather than Foreach with a closure: the closure escaped and
// cost an allocation per list, three per decision.)
func stringList(v ast.Value) []string {
	switch x := v.(type) {
	case *ast.Array:
		if x.Len() == 0 {
			return nil
		}
		out := make([]string, 0, x.Len())
		for i := range x.Len() {
			if s, ok := x.Elem(i).Value.(ast.String); ok {
				out = append(out, string(s))
			}
		}
		return out
	case ast.Set:
		if x.Len() == 0 {
			return nil
		}
		out := make([]string, 0, x.Len())
		for _, t := range x.Slice() {
			if s, ok := t.Value.(ast.String); ok {
				out = append(out, string(s))
			}
		}
		return out
	}
	return nil
}

// stringMap keeps the string members of an object with string values.
func stringMap(v ast.Value) map[string]string {
	obj, ok := v.(ast.Object)
	if !ok || obj.Len() == 0 {
		return nil
	}
	out := make(map[string]string, obj.Len())
	obj.Foreach(func(k, v *ast.Term) {
		ks, ok1 := k.Value.(ast.String)
		vs, ok2 := v.Value.(ast.String)
		if ok1 && ok2 {
			out[string(ks)] = string(vs)
		}
	})
	return out
}
