package pipeline

import (
	"net/http"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse/gatehouse/authn"
)

// The parts of input.request that ownership rules need without re-parsing
// strings: the parsed query and the path parameters of the matched OpenAPI
// template (`/users/{uid}/orders` → {"uid": "…"}).

var (
	kQuery      = ast.StringTerm("query")
	kPathParams = ast.StringTerm("path_params")
)

// PathParam is one {name} of an operation's path template: the segment it
// sits in and any literal text around it in that segment ({id}.json).
type PathParam struct {
	seg            int
	name           string
	prefix, suffix string
}

// CompilePathParams reads a route template (base path + OpenAPI path) once
// per generation. Segments with more than one parameter are left out (the
// router accepts them, but no split between the two is the right one).
func CompilePathParams(tmpl string) (params []PathParam, segs int) {
	parts := strings.Split(tmpl, "/")
	for i, p := range parts {
		open := strings.IndexByte(p, '{')
		if open < 0 || strings.Count(p, "{") != 1 {
			continue
		}
		end := strings.IndexByte(p, '}')
		if end < open {
			continue
		}
		params = append(params, PathParam{seg: i, name: p[open+1 : end], prefix: p[:open], suffix: p[end+1:]})
	}
	return params, len(parts)
}

// pathParamsValue extracts the parameters from the normalized (decoded)
// request path the router matched.
func (op *OpInput) pathParamsValue(path string) *ast.Term {
	if len(op.PathParams) == 0 {
		return emptyObject
	}
	parts := strings.Split(path, "/")
	if len(parts) != op.PathSegs {
		return emptyObject
	}
	obj := ast.NewObjectWithCapacity(len(op.PathParams))
	for _, p := range op.PathParams {
		v := parts[p.seg]
		if !strings.HasPrefix(v, p.prefix) || !strings.HasSuffix(v[len(p.prefix):], p.suffix) {
			continue
		}
		obj.Insert(ast.StringTerm(p.name), ast.StringTerm(v[len(p.prefix):len(v)-len(p.suffix)]))
	}
	return ast.NewTerm(obj)
}

// queryValue is the query as an object of arrays of strings (a name may
// repeat), without the operation's API-key query parameters.
func (op *OpInput) queryValue(raw string) *ast.Term {
	if raw == "" {
		return emptyObject
	}
	var names []string
	vals := map[string][]*ast.Term{}
	authn.QueryParams(raw, op.StripQuery, func(name, value string) {
		if _, seen := vals[name]; !seen {
			names = append(names, name)
		}
		vals[name] = append(vals[name], ast.StringTerm(value))
	})
	if len(names) == 0 {
		return emptyObject
	}
	obj := ast.NewObjectWithCapacity(len(names))
	for _, n := range names {
		obj.Insert(ast.StringTerm(n), ast.ArrayTerm(vals[n]...))
	}
	return ast.NewTerm(obj)
}

// rawQuery is r's query as sent (the policy probe's request has no URL).
func rawQuery(r *http.Request) string {
	if r.URL == nil {
		return ""
	}
	return r.URL.RawQuery
}
