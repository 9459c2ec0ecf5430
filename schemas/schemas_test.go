package schemas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/policies"
	"github.com/gatehouse/gatehouse/schemas"
)

// compileAll compiles every schema of the folder together, the way the
// gateway does (each file added as a resource under its own name), so that
// cross-file $refs resolve and one bad file fails here rather than at load.
func compileAll(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	entries, err := schemas.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".schema.json") {
			continue
		}
		b, err := schemas.FS.ReadFile(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if err := c.AddResource(e.Name(), doc); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		names = append(names, e.Name())
	}
	out := map[string]*jsonschema.Schema{}
	for _, n := range names {
		s, err := c.Compile(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		out[n] = s
	}
	for _, want := range []string{"input.schema.json", "decision.schema.json", "data.schema.json"} {
		if out[want] == nil {
			t.Fatalf("%s is not embedded", want)
		}
	}
	return out
}

// doc parses JSON the way the validator wants it (json.Number for numbers).
func doc(t *testing.T, s string) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
	if err != nil {
		t.Fatalf("bad fixture: %v\n%s", err, s)
	}
	return v
}

// patch returns a copy of a JSON fixture with one member set (or, with a nil
// value, removed); path is dot-separated.
func patch(t *testing.T, base string, path string, value any) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		t.Fatal(err)
	}
	keys := strings.Split(path, ".")
	cur := m
	for _, k := range keys[:len(keys)-1] {
		cur = cur[k].(map[string]any)
	}
	if value == nil {
		delete(cur, keys[len(keys)-1])
	} else {
		cur[keys[len(keys)-1]] = value
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const identityJWT = `{"scheme": "petsOAuth", "type": "jwt", "subject": "alice", "issuer": "https://idp.example/",
	"source": "corp", "client_id": "app-1", "scopes": ["read:pets"], "audience": ["petstore"],
	"token_id": "jti-1", "issued_at": 1700000000, "expires_at": 1700003600,
	"credential_id": "9f86d081884c", "claims": {"sub": "alice", "scope": "read:pets"}}`

var validInput = `{
	"time": 1700000100000000000,
	"request": {"id": "req-1", "method": "GET", "path": "/petstore/v1/pets/1", "host": "api.example",
		"scheme": "https", "client_ip": "192.0.2.1", "headers": {"accept": "application/json", "x-request-id": "abc"},
		"query": {"tag": ["a", "b"]}, "path_params": {"id": "1"}},
	"api": {"name": "petstore", "version": "1.0.0", "base_path": "/petstore/v1"},
	"operation": {"id": "getPet", "method": "GET", "path": "/pets/{id}", "public": false,
		"security": [{"petsOAuth": ["read:pets"]}, {"basicAuth": [], "clientCert": []}, {}], "scope_mode": "all"},
	"schemes": {"petsOAuth": {"type": "oauth2"}, "basicAuth": {"type": "http", "scheme": "basic"},
		"clientCert": {"type": "mutualTLS"}},
	"credentials": {"petsOAuth": ` + identityJWT + `},
	"rejections": {"basicAuth": {"reason": "invalid_credentials"}}
}`

func TestInputSchema(t *testing.T) {
	s := compileAll(t)["input.schema.json"]
	valid := map[string]string{
		"ok/full":                    validInput,
		"ok/public":                  patch(t, patch(t, validInput, "operation.public", true), "operation.security", []any{}),
		"ok/rejection_with_type":     patch(t, validInput, "rejections", map[string]any{"petsOAuth": map[string]any{"reason": "expired", "type": "jwt"}}),
		"ok/no_credentials":          patch(t, validInput, "credentials", map[string]any{}),
		"ok/scope_mode_any":          patch(t, validInput, "operation.scope_mode", "any"),
		"ok/scheme_with_extra_facts": patch(t, validInput, "schemes.petsOAuth", map[string]any{"type": "oauth2", "flows": map[string]any{}}),
	}
	invalid := map[string]string{
		"fail/authorization_header":  patch(t, validInput, "request.headers", map[string]any{"authorization": "Bearer x"}),
		"fail/cookie_header":         patch(t, validInput, "request.headers", map[string]any{"cookie": "a=b"}),
		"fail/uppercase_header_name": patch(t, validInput, "request.headers", map[string]any{"Accept": "x"}),
		"fail/unknown_reason":        patch(t, validInput, "rejections", map[string]any{"petsOAuth": map[string]any{"reason": "bad"}}),
		"fail/scopes_not_a_list":     patch(t, validInput, "operation.security", []any{map[string]any{"petsOAuth": "read:pets"}}),
		"fail/no_operation":          patch(t, validInput, "operation", nil),
		"fail/public_not_boolean":    patch(t, validInput, "operation.public", "true"),
		"fail/unknown_scope_mode":    patch(t, validInput, "operation.scope_mode", "some"),
		"fail/identity_without_scopes": patch(t, validInput, "credentials", map[string]any{
			"petsOAuth": map[string]any{"scheme": "petsOAuth", "type": "jwt"}}),
		"fail/unknown_member": patch(t, validInput, "subscription", "gold"),
	}
	for name, in := range valid {
		if err := s.Validate(doc(t, in)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, in := range invalid {
		if err := s.Validate(doc(t, in)); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
}

// The identity document is copied into input.schema.json (so that
// `opa check --schema` never resolves a remote $ref): the copy must stay
// identical to identity.schema.json.
func TestInputSchemaIdentityCopyMatches(t *testing.T) {
	read := func(name string) map[string]any {
		b, err := fs.ReadFile(schemas.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	in, id := read("input.schema.json"), read("identity.schema.json")
	inDefs := in["$defs"].(map[string]any)
	cp := inDefs["identity"].(map[string]any)
	for _, k := range []string{"type", "additionalProperties", "required", "properties"} {
		if !reflect.DeepEqual(cp[k], id[k]) {
			t.Errorf("input.schema.json $defs.identity.%s differs from identity.schema.json: copy the new version over", k)
		}
	}
	for k, v := range id["$defs"].(map[string]any) {
		if !reflect.DeepEqual(inDefs[k], v) {
			t.Errorf("input.schema.json $defs.%s differs from identity.schema.json's", k)
		}
	}
}

// The closed rejection reasons are listed in input.schema.json and
// decision.schema.json (each schema stands alone, no cross-file $ref): the
// two lists must stay the same.
func TestRejectionReasonsAgree(t *testing.T) {
	defs := func(name string) map[string]any {
		b, err := fs.ReadFile(schemas.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m["$defs"].(map[string]any)
	}
	in, dec := defs("input.schema.json")["rejection_reason"], defs("decision.schema.json")["rejection_reason"]
	if !reflect.DeepEqual(in, dec) {
		t.Errorf("rejection reasons differ:\ninput:    %v\ndecision: %v", in, dec)
	}
}

// The reasons in the schemas are exactly the authenticators' closed set.
func TestRejectionReasonsAreAuthnReasons(t *testing.T) {
	b, err := fs.ReadFile(schemas.FS, "input.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Defs struct {
			Reason struct {
				Enum []string `json:"enum"`
			} `json:"rejection_reason"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range authn.Reasons {
		want = append(want, string(r))
	}
	if !reflect.DeepEqual(m.Defs.Reason.Enum, want) {
		t.Errorf("input.schema.json rejection reasons %v, authn.Reasons %v", m.Defs.Reason.Enum, want)
	}
}

func TestDecisionSchema(t *testing.T) {
	s := compileAll(t)["decision.schema.json"]
	valid := map[string]string{
		"ok/allow":        `{"allow": true, "reasons": [], "alternative": 0, "schemes": ["petsOAuth"], "principal": ` + identityJWT + `}`,
		"ok/allow_public": `{"allow": true, "reasons": [], "alternative": -1, "schemes": [], "principal": {}}`,
		"ok/allow_extras": `{"allow": true, "reasons": [], "alternative": 1, "schemes": ["basicAuth"], "principal": {}, "headers": {"x-tenant": "acme"}, "rejected": {"petsOAuth": "expired"}}`,
		"ok/deny":         `{"allow": false, "reasons": ["credentials_missing"], "alternative": -1}`,
		"ok/deny_scope":   `{"allow": false, "reasons": ["insufficient_scope"], "alternative": -1, "required_scopes": ["read:pets"]}`,
		"ok/deny_invalid": `{"allow": false, "reasons": ["credentials_invalid"], "alternative": -1, "rejected": {"petsOAuth": "expired"}}`,
		"ok/deny_custom":  `{"allow": false, "reasons": ["rate_plan_exceeded"], "alternative": 0, "status": 429, "messages": ["plan limit"]}`,
	}
	invalid := map[string]string{
		"fail/allow_with_reasons":     `{"allow": true, "reasons": ["x"], "alternative": 0, "schemes": [], "principal": {}}`,
		"fail/deny_without_reasons":   `{"allow": false, "reasons": [], "alternative": -1}`,
		"fail/deny_with_headers":      `{"allow": false, "reasons": ["x"], "alternative": -1, "headers": {"a": "b"}}`,
		"fail/deny_with_principal":    `{"allow": false, "reasons": ["x"], "alternative": -1, "principal": {}}`,
		"fail/allow_with_status":      `{"allow": true, "reasons": [], "alternative": 0, "schemes": [], "principal": {}, "status": 403}`,
		"fail/status_not_an_error":    `{"allow": false, "reasons": ["x"], "alternative": -1, "status": 302}`,
		"fail/unknown_rejection":      `{"allow": false, "reasons": ["credentials_invalid"], "alternative": -1, "rejected": {"a": "nope"}}`,
		"fail/header_not_string":      `{"allow": true, "reasons": [], "alternative": 0, "schemes": [], "principal": {}, "headers": {"a": 1}}`,
		"fail/alternative_too_small":  `{"allow": false, "reasons": ["x"], "alternative": -2}`,
		"fail/no_allow":               `{"reasons": ["x"], "alternative": -1}`,
		"fail/unknown_member":         `{"allow": false, "reasons": ["x"], "alternative": -1, "why": "x"}`,
		"fail/principal_not_identity": `{"allow": true, "reasons": [], "alternative": 0, "schemes": [], "principal": {"subject": "x"}}`,
	}
	for name, d := range valid {
		if err := s.Validate(doc(t, d)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, d := range invalid {
		if err := s.Validate(doc(t, d)); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
}

func TestDataSchema(t *testing.T) {
	s := compileAll(t)["data.schema.json"]
	valid := map[string]string{
		"ok/empty":                 `{}`,
		"ok/user_data":             `{"acme": {"anything": [1, 2]}}`,
		"ok/revocations":           `{"gatehouse": {"revocations": {"jti": {"jti-1": true, "key-2": {"at": 1700000000}}, "issued_before": {"corp": 1700000000}}}}`,
		"ok/config":                `{"gatehouse": {"config": {"allow_fallthrough": {"petstore": true}}}}`,
		"ok/custom":                `{"gatehouse": {"custom": {"deny": [{"reason": "maintenance", "status": 503}], "headers": {"x-env": "prod"}, "blocked": ["t1"]}}}`,
		"ok/subscriptions":         `{"gatehouse": {"applications": {"corp": {"app-1": {"name": "shop"}}}, "subscriptions": {"corp": {"app-1": [{"api": "petstore", "plan": "gold"}]}}}}`,
		"ok/subscription_versions": `{"gatehouse": {"subscriptions": {"corp": {"app-1": [{"api": "petstore", "version": "1.0.0"}, {"api": "orders", "version": ""}], "app-2": []}}}}`,
		"ok/same_app_two_sources":  `{"gatehouse": {"subscriptions": {"corp": {"pets-client": [{"api": "petstore"}]}, "partner": {"pets-client": []}}}}`,
		"ok/application_metadata":  `{"gatehouse": {"applications": {"corp": {"app-1": {"name": "shop", "owner": "team-a", "tier": 3}}}}}`,
	}
	invalid := map[string]string{
		"fail/misspelt_revocations":    `{"gatehouse": {"revocation": {"jti": {"a": true}}}}`,
		"fail/issued_before_string":    `{"gatehouse": {"revocations": {"issued_before": {"corp": "2024-01-01"}}}}`,
		"fail/unknown_revocation_kind": `{"gatehouse": {"revocations": {"sub": {"alice": true}}}}`,
		"fail/fallthrough_not_boolean": `{"gatehouse": {"config": {"allow_fallthrough": {"petstore": "yes"}}}}`,
		"fail/custom_deny_no_reason":   `{"gatehouse": {"custom": {"deny": [{"status": 403}]}}}`,
		"fail/custom_header_number":    `{"gatehouse": {"custom": {"headers": {"x-n": 1}}}}`,
		"fail/subscriptions_object":    `{"gatehouse": {"subscriptions": {"corp": {"app-1": {"api": "petstore"}}}}}`,
		"fail/subscription_no_api":     `{"gatehouse": {"subscriptions": {"corp": {"app-1": [{"plan": "gold"}]}}}}`,
		"fail/subscription_misspelt":   `{"gatehouse": {"subscriptions": {"corp": {"app-1": [{"api": "petstore", "versoin": "1"}]}}}}`,
		"fail/subscription_empty_app":  `{"gatehouse": {"subscriptions": {"corp": {"": [{"api": "petstore"}]}}}}`,
		"fail/subscription_empty_src":  `{"gatehouse": {"subscriptions": {"": {"app-1": [{"api": "petstore"}]}}}}`,
		"fail/application_name_number": `{"gatehouse": {"applications": {"corp": {"app-1": {"name": 1}}}}}`,
		// The flat shape of earlier releases (docs/migrating-bundle-data.md).
		"fail/flat_subscriptions":      `{"gatehouse": {"subscriptions": {"app-1": [{"api": "petstore"}]}}}`,
		"fail/flat_subscriptions_none": `{"gatehouse": {"subscriptions": {"app-1": []}}}`,
		"fail/flat_application":        `{"gatehouse": {"applications": {"app-1": {"name": "shop"}}}}`,
		"fail/flat_application_oauth2": `{"gatehouse": {"applications": {"shop-web": {"oauth2": {"client_secrets": ["$2y$10$abc"]}}}}}`,
		"fail/flat_application_owner":  `{"gatehouse": {"applications": {"app-1": {"owner": {"team": "a"}}}}}`,
	}
	for name, d := range valid {
		if err := s.Validate(doc(t, d)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, d := range invalid {
		if err := s.Validate(doc(t, d)); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
}

// Every decision the embedded policy makes for a set of inputs validates
// against decision.schema.json, and every one of those inputs against
// input.schema.json: the schemas describe the policy as it is.
func TestPolicyDecisionsMatchSchema(t *testing.T) {
	all := compileAll(t)
	inS, decS := all["input.schema.json"], all["decision.schema.json"]

	opts := []func(*rego.Rego){rego.Query("data.gatehouse.authz.decision")}
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.rego") {
			return err
		}
		src, err := fs.ReadFile(policies.FS, p)
		if err != nil {
			return err
		}
		m, err := ast.ParseModuleWithOpts(p, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return err
		}
		opts = append(opts, rego.ParsedModule(m))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pq, err := rego.New(opts...).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	basic := map[string]any{"scheme": "basicAuth", "type": "basic", "subject": "bob", "scopes": []any{}}
	cases := map[string]string{
		"allow/jwt":           validInputWith(t, nil, nil),
		"allow/public":        patch(t, patch(t, patch(t, validInput, "operation.public", true), "operation.security", []any{}), "rejections", map[string]any{}),
		"allow/anonymous":     patch(t, patch(t, validInput, "credentials", map[string]any{}), "rejections", map[string]any{}),
		"deny/invalid":        validInput,
		"deny/missing":        patch(t, patch(t, validInputWith(t, nil, nil), "credentials", map[string]any{}), "operation.security", []any{map[string]any{"petsOAuth": []any{}}}),
		"deny/insufficient":   patch(t, validInputWith(t, nil, nil), "operation.security", []any{map[string]any{"petsOAuth": []any{"admin:pets"}}}),
		"deny/no_requirement": patch(t, validInputWith(t, nil, nil), "operation.security", []any{}),
		"allow/and":           validInputWith(t, map[string]any{"basicAuth": basic, "clientCert": map[string]any{"scheme": "clientCert", "type": "mtls", "subject": "CN=x", "scopes": []any{}}}, []any{map[string]any{"basicAuth": []any{}, "clientCert": []any{}}}),
	}
	for name, in := range cases {
		if err := inS.Validate(doc(t, in)); err != nil {
			t.Errorf("%s: input: %v", name, err)
			continue
		}
		v, err := ast.ValueFromReader(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		rs, err := pq.Eval(context.Background(), rego.EvalParsedInput(v))
		if err != nil || len(rs) != 1 {
			t.Fatalf("%s: %v %v", name, rs, err)
		}
		b, err := json.Marshal(rs[0].Expressions[0].Value)
		if err != nil {
			t.Fatal(err)
		}
		if err := decS.Validate(doc(t, string(b))); err != nil {
			t.Errorf("%s: decision %s: %v", name, b, err)
		}
		if want := strings.HasPrefix(name, "allow/"); strings.Contains(string(b), `"allow":true`) != want {
			t.Errorf("%s: decision %s", name, b)
		}
	}
}

// validInputWith is validInput without rejections, with other credentials
// and security when given.
func validInputWith(t *testing.T, creds map[string]any, security []any) string {
	t.Helper()
	in := patch(t, validInput, "rejections", map[string]any{})
	if creds != nil {
		in = patch(t, in, "credentials", creds)
	}
	if security != nil {
		in = patch(t, in, "operation.security", security)
	}
	return in
}
