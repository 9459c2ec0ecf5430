package openapi_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/gateway/openapi"
)

// requirementsOf renders an operation's security as "a+b | c | {}".
func requirementsOf(op *openapi.Operation) string {
	var alts []string
	for _, alt := range op.Security {
		var names []string
		for _, s := range alt {
			names = append(names, s.Scheme)
		}
		sort.Strings(names)
		if len(names) == 0 {
			alts = append(alts, "{}")
			continue
		}
		alts = append(alts, strings.Join(names, "+"))
	}
	if op.Public {
		return "public"
	}
	return strings.Join(alts, " | ")
}

// How the mTLS extensions rewrite an operation's security requirements
// (README, "Mutual TLS").
func TestMTLSExtensionRequirements(t *testing.T) {
	doc := `
openapi: 3.0.3
info: {title: R, version: "1"}
x-gatehouse-base-path: /r
x-gatehouse-upstream: http://127.0.0.1:9
security: [{jwt: []}, {key: []}]
paths:
  /none: {get: {responses: {"200": {description: ok}}}}
  /mandatory: {get: {x-gatehouse-mtls: mandatory, responses: {"200": {description: ok}}}}
  /optional: {get: {x-gatehouse-mtls: optional, responses: {"200": {description: ok}}}}
  /public-mandatory: {get: {x-gatehouse-mtls: mandatory, security: [], responses: {"200": {description: ok}}}}
  /public-optional: {get: {x-gatehouse-mtls: optional, security: [], responses: {"200": {description: ok}}}}
  /wso2-mm: {get: {x-wso2-mutual-ssl: mandatory, x-wso2-application-security: {security-types: [oauth2], optional: false}, responses: {"200": {description: ok}}}}
  /wso2-mo: {get: {x-wso2-mutual-ssl: Mandatory, x-wso2-application-security: {security-types: [oauth2, api_key], optional: true}, responses: {"200": {description: ok}}}}
  /wso2-om: {get: {x-wso2-mutual-ssl: optional, x-wso2-application-security: {security-types: [api_key]}, responses: {"200": {description: ok}}}}
  /wso2-app-optional-only: {get: {x-wso2-application-security: {optional: true}, responses: {"200": {description: ok}}}}
  /both-extensions-agree: {get: {x-gatehouse-mtls: mandatory, x-wso2-mutual-ssl: mandatory, responses: {"200": {description: ok}}}}
components:
  securitySchemes:
    jwt: {type: http, scheme: bearer}
    key: {type: apiKey, in: header, name: X-Key}
`
	file := filepath.Join(t.TempDir(), "r.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	api, err := openapi.LoadAPI(openapi.APIConfig{}, file)
	if err != nil {
		t.Fatal(err)
	}
	const c = openapi.MTLSScheme
	want := map[string]string{
		"/none":                   "jwt | key",
		"/mandatory":              "jwt+" + c + " | key+" + c,
		"/optional":               "jwt | key | " + c,
		"/public-mandatory":       c,
		"/public-optional":        "public",
		"/wso2-mm":                "jwt+" + c,
		"/wso2-mo":                "jwt+" + c + " | key+" + c + " | " + c,
		"/wso2-om":                "key | " + c,
		"/wso2-app-optional-only": "jwt | key | {}",
		"/both-extensions-agree":  "jwt+" + c + " | key+" + c,
	}
	got := map[string]string{}
	for _, op := range api.Operations {
		got[op.Path] = requirementsOf(op)
	}
	for path, w := range want {
		t.Run("ok"+path, func(t *testing.T) {
			if got[path] != w {
				t.Fatalf("requirements %q, want %q", got[path], w)
			}
		})
	}
	if def := api.Schemes[c]; def == nil || def.Type != "mutualTLS" || !def.Synthetic {
		t.Fatalf("synthetic scheme: %+v", def)
	}

	bad := map[string]string{
		"fail/extensions disagree":        `x-gatehouse-mtls: mandatory, x-wso2-mutual-ssl: optional`,
		"fail/both optional":              `x-wso2-mutual-ssl: optional, x-wso2-application-security: {optional: true}`,
		"fail/bad mode":                   `x-gatehouse-mtls: true`,
		"fail/app security not an object": `x-wso2-application-security: [oauth2]`,
		"fail/unknown app security key":   `x-wso2-application-security: {types: [oauth2]}`,
		"fail/optional not a boolean":     `x-wso2-application-security: {optional: "yes"}`,
		"fail/no alternative left":        `x-wso2-application-security: {security-types: [basic_auth]}`,
	}
	for name, ext := range bad {
		t.Run(name, func(t *testing.T) {
			d := strings.Replace(doc, "/none: {get: {responses", "/none: {get: {"+ext+", responses", 1)
			f := filepath.Join(t.TempDir(), "r.yaml")
			if err := os.WriteFile(f, []byte(d), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := openapi.LoadAPI(openapi.APIConfig{}, f); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
