// Package openapi loads the API definitions the gateway serves: one OpenAPI
// 3.0 or 3.1 document per config entry (APIConfig), read into the API,
// its security schemes and its operations with their effective security
// requirements, including the mutual-TLS extensions (mtls.go). It knows
// nothing of authenticators or policy: gateway/pipeline compiles what it
// loads into the routes and operations a request is evaluated against.
package openapi

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// API is one API definition after loading: its identity, where it is served
// and forwarded, the security schemes it declares, and its operations with
// their effective security requirements.
type API struct {
	Name      string
	Version   string
	BasePath  string // "" or "/a/b", never a trailing slash
	Upstream  *url.URL
	ScopeMode string // "all" (OpenAPI) or "any" (WSO2-style)
	// UpstreamTimeout bounds the wait for the upstream's response headers.
	UpstreamTimeout time.Duration
	Source          string // the OpenAPI file

	Schemes    map[string]*SchemeDef
	Operations []*Operation
	// Extensions holds the document's x- extensions, for later capabilities.
	Extensions map[string]any
	// Config is the API's entry in the config file.
	Config APIConfig
	// DocClientCAFiles are the CA bundles x-gatehouse-client-ca names,
	// resolved against the document's directory.
	DocClientCAFiles []string
}

// SchemeDef is an OpenAPI securityScheme as the gateway needs it.
type SchemeDef struct {
	Name       string
	Type       string // apiKey, http, oauth2, openIdConnect, mutualTLS
	HTTPScheme string // for type http: "basic" or "bearer" (lowercase)
	In         string // for apiKey: header, query, cookie
	ParamName  string // for apiKey: the header/query/cookie name
	Extensions map[string]any
	// Synthetic: added by the gateway (the mTLS extensions), not declared.
	Synthetic bool
}

// Requirement is one security alternative: every scheme in it must be
// satisfied (AND), with its scopes.
type Requirement []SchemeScopes

// SchemeScopes is one scheme of an alternative with the scopes it needs.
type SchemeScopes struct {
	Scheme string
	Scopes []string
}

// Operation is one (method, path) of an API.
type Operation struct {
	API      *API
	ID       string
	Method   string // upper case
	Path     string // template relative to the base path, e.g. /pets/{id}
	Security []Requirement
	Public   bool
	// Schemes lists every scheme name any alternative uses, sorted; these are
	// the authenticators that run for this operation.
	Schemes []string
	// PolicyBody: x-gatehouse-policy-body: true on the operation (or the
	// document, which the operation's own false overrides); the policy
	// gets input.request.body (gateway/pipeline/body.go).
	PolicyBody bool
}

// OpenAPI extension names the gateway reads.
const (
	extUpstream      = "x-gatehouse-upstream"
	extBasePath      = "x-gatehouse-base-path"
	extPublic        = "x-gatehouse-public"
	extScopeMode     = "x-gatehouse-scope-mode"
	extPolicyBody    = "x-gatehouse-policy-body"
	extWSO2BasePath  = "x-wso2-basePath"
	extWSO2Endpoints = "x-wso2-production-endpoints"
)

// ErrOpenAPI is wrapped by every API definition problem.
var ErrOpenAPI = errors.New("invalid API definition")

var nameRe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// LoadAPI reads one OpenAPI 3.0 or 3.1 document and combines it with its
// config entry. External $refs are not followed: an API definition must not
// make the gateway read arbitrary files or URLs.
func LoadAPI(ac APIConfig, file string) (*API, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOpenAPI, err)
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrOpenAPI, file, err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0") && !strings.HasPrefix(doc.OpenAPI, "3.1") {
		return nil, fmt.Errorf("%w: %s: openapi version %q is not 3.0 or 3.1", ErrOpenAPI, file, doc.OpenAPI)
	}
	// Validate structure, but not examples/schemas of payloads: the gateway
	// does not validate bodies, and a bad example must not block a deploy.
	if err := doc.Validate(context.Background(),
		openapi3.DisableExamplesValidation(),
		openapi3.DisableSchemaDefaultsValidation(),
		openapi3.DisableSchemaPatternValidation(),
	); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrOpenAPI, file, err)
	}

	api := &API{Source: file, Extensions: doc.Extensions, Schemes: map[string]*SchemeDef{}, Config: ac}
	if api.DocClientCAFiles, err = docClientCAs(doc, file); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrOpenAPI, file, err)
	}
	if doc.Info != nil {
		api.Name = nameRe.ReplaceAllString(strings.ToLower(strings.TrimSpace(doc.Info.Title)), "-")
		api.Version = doc.Info.Version
	}
	if ac.Name != "" {
		api.Name = ac.Name
	}
	if ac.Version != "" {
		api.Version = ac.Version
	}
	if api.Name == "" || api.Version == "" {
		return nil, fmt.Errorf("%w: %s: API name and version are required (info.title/info.version, or name/version in config)", ErrOpenAPI, file)
	}

	bp, err := basePath(ac, doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrOpenAPI, file, err)
	}
	api.BasePath = bp

	up, err := upstream(ac, doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrOpenAPI, file, err)
	}
	api.Upstream = up
	api.UpstreamTimeout = ac.UpstreamTimeout.D()

	api.ScopeMode = "all"
	if s, ok := doc.Extensions[extScopeMode].(string); ok {
		api.ScopeMode = s
	}
	if ac.ScopeMode != "" {
		api.ScopeMode = ac.ScopeMode
	}
	if api.ScopeMode != "all" && api.ScopeMode != "any" {
		return nil, fmt.Errorf("%w: %s: scope mode %q is not all or any", ErrOpenAPI, file, api.ScopeMode)
	}

	if doc.Components != nil {
		for name, ref := range doc.Components.SecuritySchemes {
			if ref == nil || ref.Value == nil {
				continue
			}
			s := ref.Value
			api.Schemes[name] = &SchemeDef{
				Name:       name,
				Type:       s.Type,
				HTTPScheme: strings.ToLower(s.Scheme),
				In:         s.In,
				ParamName:  s.Name,
				Extensions: s.Extensions,
			}
		}
	}

	for _, p := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(p)
		if item == nil {
			continue
		}
		for method, o := range item.Operations() {
			op, err := api.operation(doc, p, method, o)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %s %s: %w", ErrOpenAPI, file, method, p, err)
			}
			api.Operations = append(api.Operations, op)
		}
	}
	sort.SliceStable(api.Operations, func(i, j int) bool {
		a, b := api.Operations[i], api.Operations[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Method < b.Method
	})
	if len(api.Operations) == 0 {
		return nil, fmt.Errorf("%w: %s: no operations under paths", ErrOpenAPI, file)
	}
	return api, nil
}

func (api *API) operation(doc *openapi3.T, p, method string, o *openapi3.Operation) (*Operation, error) {
	op := &Operation{API: api, Method: strings.ToUpper(method), Path: p, ID: o.OperationID}
	if op.ID == "" {
		op.ID = op.Method + " " + p
	}
	// The operation's security overrides the document's; an explicitly empty
	// list at either level means public. Absent everywhere means no
	// requirement, which the policy denies.
	var reqs openapi3.SecurityRequirements
	explicit := false
	switch {
	case o.Security != nil:
		reqs, explicit = *o.Security, true
	case doc.Security != nil:
		reqs, explicit = doc.Security, true
	}
	if pub, ok := o.Extensions[extPublic].(bool); ok && pub {
		op.Public = true
	}
	var err error
	if op.PolicyBody, err = policyBody(doc.Extensions, o.Extensions); err != nil {
		return nil, err
	}
	if explicit && len(reqs) == 0 {
		op.Public = true
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		names := make([]string, 0, len(r))
		for name := range r {
			names = append(names, name)
		}
		sort.Strings(names)
		alt := make(Requirement, 0, len(names))
		for _, name := range names {
			if _, ok := api.Schemes[name]; !ok {
				return nil, fmt.Errorf("security requirement names scheme %q, which components.securitySchemes does not define", name)
			}
			scopes := append([]string(nil), r[name]...)
			alt = append(alt, SchemeScopes{Scheme: name, Scopes: scopes})
			if !seen[name] {
				seen[name] = true
				op.Schemes = append(op.Schemes, name)
			}
		}
		op.Security = append(op.Security, alt)
	}
	if err := api.applyMTLS(doc, op, o); err != nil {
		return nil, err
	}
	if op.Public && len(op.Security) > 0 {
		return nil, fmt.Errorf("%s is marked public but also has security requirements", extPublic)
	}
	sort.Strings(op.Schemes)
	return op, nil
}

func basePath(ac APIConfig, doc *openapi3.T) (string, error) {
	var bp string
	switch {
	case ac.BasePath != nil:
		bp = *ac.BasePath
	case stringExt(doc.Extensions, extBasePath) != "":
		bp = stringExt(doc.Extensions, extBasePath)
	case stringExt(doc.Extensions, extWSO2BasePath) != "":
		bp = stringExt(doc.Extensions, extWSO2BasePath)
	case len(doc.Servers) > 0 && doc.Servers[0] != nil:
		u, err := url.Parse(doc.Servers[0].URL)
		if err == nil && !strings.Contains(u.Path, "{") {
			bp = u.Path
		}
	}
	bp = strings.TrimRight(bp, "/")
	if bp != "" && (!strings.HasPrefix(bp, "/") || path.Clean(bp) != bp || strings.ContainsAny(bp, "{}?#%")) {
		return "", fmt.Errorf("base path %q must be a clean absolute path without templates or escapes", bp)
	}
	return bp, nil
}

func upstream(ac APIConfig, doc *openapi3.T) (*url.URL, error) {
	raw := ac.Upstream
	if raw == "" {
		raw = stringExt(doc.Extensions, extUpstream)
	}
	if raw == "" {
		// WSO2: x-wso2-production-endpoints: {urls: [..]}
		if m, ok := doc.Extensions[extWSO2Endpoints].(map[string]any); ok {
			if urls, ok := m["urls"].([]any); ok && len(urls) > 0 {
				raw, _ = urls[0].(string)
			}
		}
	}
	if raw == "" {
		return nil, errors.New("no upstream: set upstream in config, or x-gatehouse-upstream (or x-wso2-production-endpoints) in the document")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("upstream %q must be an http(s) URL with a host and no query, fragment or user info", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

func stringExt(ext map[string]any, k string) string {
	s, _ := ext[k].(string)
	return s
}

// policyBody reads x-gatehouse-policy-body: the operation's value, else
// the document's; a value that is not a boolean is an error (a typo must
// not silently keep the body from a policy that reads it).
func policyBody(docExt, opExt map[string]any) (bool, error) {
	for _, ext := range []map[string]any{opExt, docExt} {
		v, ok := ext[extPolicyBody]
		if !ok {
			continue
		}
		b, ok := v.(bool)
		if !ok {
			return false, fmt.Errorf("%s is %v, not true or false", extPolicyBody, v)
		}
		return b, nil
	}
	return false, nil
}
