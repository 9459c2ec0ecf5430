package openapi

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gatehouse/gatehouse/internal/config"
)

// Mutual TLS in API definitions. OpenAPI 3.1 has the `mutualTLS` scheme
// type, used in security requirements like any other scheme. OpenAPI 3.0
// has none, so the gateway reads extensions (document level, overridden per
// operation) and rewrites the operation's requirements with a synthetic
// scheme named MTLSScheme:
//
//	x-gatehouse-mtls: mandatory | optional
//	x-wso2-mutual-ssl: mandatory | optional            (WSO2 Microgateway)
//	x-wso2-application-security:                       (WSO2 Microgateway)
//	  security-types: [oauth2, api_key, basic_auth]    # which app schemes count
//	  optional: true | false
//
// With S the operation's application security (its OpenAPI alternatives,
// filtered by security-types, plus {} when application security is
// optional), the certificate C is combined as:
//
//	mandatory: every alternative of S gets C ANDed    [A∧C, B∧C, (C if {} ∈ S)]
//	optional:  C is one more alternative              [A, B, C]
//
// so mandatory mTLS with optional app security accepts the certificate
// alone, mandatory with mandatory needs both, and optional accepts either.
// Optional mTLS together with optional app security would require nothing
// and is refused.

// MTLSScheme is the scheme name the mTLS extensions add to security
// requirements; policies see the certificate's identity under this name.
const MTLSScheme = "x-gatehouse-mtls"

const (
	extMTLS            = "x-gatehouse-mtls"
	extClientCA        = "x-gatehouse-client-ca"
	extWSO2MutualSSL   = "x-wso2-mutual-ssl"
	extWSO2AppSecurity = "x-wso2-application-security"
)

// mtlsExt is what the extensions say at one level (document or operation).
type mtlsExt struct {
	mode        string // "", "mandatory", "optional"
	appOptional bool
	types       []string // security-types; nil with typesSet: none
	typesSet    bool
}

// wso2Kinds maps an OpenAPI scheme to WSO2's security-types names.
func wso2Kind(def *SchemeDef) string {
	switch {
	case def.Type == "http" && def.HTTPScheme == "basic":
		return "basic_auth"
	case def.Type == "apiKey":
		return "api_key"
	case def.Type == "mutualTLS":
		return "mutualTLS"
	}
	return "oauth2" // http bearer, oauth2, openIdConnect
}

// readMTLSExt overlays the extensions of one level onto inherited values.
func readMTLSExt(ext map[string]any, e mtlsExt) (mtlsExt, error) {
	var modes []string
	for _, k := range []string{extMTLS, extWSO2MutualSSL} {
		v, ok := ext[k]
		if !ok {
			continue
		}
		s, _ := v.(string)
		s = strings.ToLower(strings.TrimSpace(s))
		if s != "mandatory" && s != "optional" {
			return e, fmt.Errorf("%s must be mandatory or optional, not %v", k, v)
		}
		modes = append(modes, s)
	}
	if len(modes) == 2 && modes[0] != modes[1] {
		return e, fmt.Errorf("%s and %s disagree", extMTLS, extWSO2MutualSSL)
	}
	if len(modes) > 0 {
		e.mode = modes[0]
	}
	if v, ok := ext[extWSO2AppSecurity]; ok {
		m, ok := v.(map[string]any)
		if !ok {
			return e, fmt.Errorf("%s must be an object {security-types: [...], optional: bool}", extWSO2AppSecurity)
		}
		for k := range m {
			if k != "security-types" && k != "optional" {
				return e, fmt.Errorf("%s: unknown member %q", extWSO2AppSecurity, k)
			}
		}
		if o, ok := m["optional"]; ok {
			b, isBool := o.(bool)
			if !isBool {
				return e, fmt.Errorf("%s.optional must be a boolean", extWSO2AppSecurity)
			}
			e.appOptional = b
		}
		if t, ok := m["security-types"]; ok {
			list, isList := t.([]any)
			if !isList {
				return e, fmt.Errorf("%s.security-types must be a list", extWSO2AppSecurity)
			}
			e.types, e.typesSet = []string{}, true
			for _, x := range list {
				s, _ := x.(string)
				if s != "oauth2" && s != "api_key" && s != "basic_auth" {
					return e, fmt.Errorf("%s.security-types: %v is not oauth2, api_key or basic_auth", extWSO2AppSecurity, x)
				}
				e.types = append(e.types, s)
			}
		}
	}
	return e, nil
}

// applyMTLS rewrites op.Security (and op.Schemes, op.Public) from the mTLS
// extensions of the document and the operation.
func (api *API) applyMTLS(doc *openapi3.T, op *Operation, o *openapi3.Operation) error {
	e, err := readMTLSExt(doc.Extensions, mtlsExt{})
	if err != nil {
		return err
	}
	if e, err = readMTLSExt(o.Extensions, e); err != nil {
		return err
	}
	if e.mode == "" && !e.typesSet && !e.appOptional {
		return nil
	}
	sec := op.Security
	if e.typesSet {
		kept := sec[:0:0]
		for _, alt := range sec {
			if slices.ContainsFunc(alt, func(s SchemeScopes) bool {
				k := wso2Kind(api.Schemes[s.Scheme])
				return k != "mutualTLS" && !slices.Contains(e.types, k)
			}) {
				continue
			}
			kept = append(kept, alt)
		}
		sec = kept
	}
	if e.appOptional && !slices.ContainsFunc(sec, func(a Requirement) bool { return len(a) == 0 }) {
		sec = append(sec, Requirement{})
	}
	cert := SchemeScopes{Scheme: MTLSScheme, Scopes: []string{}}
	switch e.mode {
	case "mandatory":
		if len(sec) == 0 {
			sec = []Requirement{{}}
		}
		out := make([]Requirement, 0, len(sec))
		for _, alt := range sec {
			if !slices.ContainsFunc(alt, func(s SchemeScopes) bool { return s.Scheme == MTLSScheme }) {
				alt = append(append(Requirement{}, alt...), cert)
			}
			out = append(out, alt)
		}
		sec = out
		op.Public = false
	case "optional":
		if e.appOptional {
			return errors.New("mutual TLS and application security are both optional: nothing would be required (make one mandatory)")
		}
		if op.Public {
			return nil // a public operation stays public
		}
		sec = append(sec, Requirement{cert})
	default:
		if op.Public && e.appOptional {
			return nil
		}
	}
	if len(sec) == 0 && !op.Public {
		return errors.New("x-wso2-application-security.security-types leaves no security alternative and mutual TLS is not mandatory")
	}
	op.Security = sec
	if e.mode != "" {
		if def, clash := api.Schemes[MTLSScheme]; clash && !def.Synthetic {
			return fmt.Errorf("components.securitySchemes may not define %q: the mTLS extensions use that name", MTLSScheme)
		}
		api.Schemes[MTLSScheme] = &SchemeDef{Name: MTLSScheme, Type: "mutualTLS", Synthetic: true}
	}
	op.Schemes = op.Schemes[:0]
	seen := map[string]bool{}
	for _, alt := range sec {
		for _, s := range alt {
			if !seen[s.Scheme] {
				seen[s.Scheme] = true
				op.Schemes = append(op.Schemes, s.Scheme)
			}
		}
	}
	return nil
}

// docClientCAs reads x-gatehouse-client-ca (a path or a list of paths,
// relative to the document).
func docClientCAs(doc *openapi3.T, file string) ([]string, error) {
	v, ok := doc.Extensions[extClientCA]
	if !ok {
		return nil, nil
	}
	var list []string
	switch v := v.(type) {
	case string:
		list = []string{v}
	case []any:
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%s must be a path or a list of paths", extClientCA)
			}
			list = append(list, s)
		}
	default:
		return nil, fmt.Errorf("%s must be a path or a list of paths", extClientCA)
	}
	dir := filepath.Dir(file)
	for i, p := range list {
		if p == "" {
			return nil, fmt.Errorf("%s: empty path", extClientCA)
		}
		list[i] = config.ResolvePath(dir, p)
	}
	return list, nil
}
