package pipeline

import (
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse/gatehouse/gateway/openapi"
)

// The parts of the policy input built once per generation (OpInput); the
// per-request parts are in input.go.

// APIValue is input.api.
func APIValue(api *openapi.API) *ast.Term {
	return ast.ObjectTerm(
		[2]*ast.Term{ast.StringTerm("name"), ast.StringTerm(api.Name)},
		[2]*ast.Term{ast.StringTerm("version"), ast.StringTerm(api.Version)},
		[2]*ast.Term{ast.StringTerm("base_path"), ast.StringTerm(api.BasePath)},
	)
}

// OperationValue is input.operation.
func OperationValue(op *openapi.Operation) *ast.Term {
	alts := make([]*ast.Term, 0, len(op.Security))
	for _, alt := range op.Security {
		obj := ast.NewObject()
		for _, s := range alt {
			scopes := make([]*ast.Term, len(s.Scopes))
			for i, sc := range s.Scopes {
				scopes[i] = ast.StringTerm(sc)
			}
			obj.Insert(ast.StringTerm(s.Scheme), ast.ArrayTerm(scopes...))
		}
		alts = append(alts, ast.NewTerm(obj))
	}
	return ast.ObjectTerm(
		[2]*ast.Term{ast.StringTerm("id"), ast.StringTerm(op.ID)},
		[2]*ast.Term{ast.StringTerm("method"), ast.StringTerm(op.Method)},
		[2]*ast.Term{ast.StringTerm("path"), ast.StringTerm(op.Path)},
		[2]*ast.Term{ast.StringTerm("public"), ast.BooleanTerm(op.Public)},
		[2]*ast.Term{ast.StringTerm("security"), ast.ArrayTerm(alts...)},
		[2]*ast.Term{ast.StringTerm("scope_mode"), ast.StringTerm(op.API.ScopeMode)},
	)
}

// SchemesValue is input.schemes.
func SchemesValue(op *openapi.Operation) *ast.Term {
	obj := ast.NewObject()
	for _, name := range op.Schemes {
		def := op.API.Schemes[name]
		fields := [][2]*ast.Term{{kType, ast.StringTerm(def.Type)}}
		if def.HTTPScheme != "" {
			fields = append(fields, [2]*ast.Term{kScheme, ast.StringTerm(def.HTTPScheme)})
		}
		if def.In != "" {
			fields = append(fields, [2]*ast.Term{ast.StringTerm("in"), ast.StringTerm(def.In)})
		}
		obj.Insert(ast.StringTerm(name), ast.ObjectTerm(fields...))
	}
	return ast.NewTerm(obj)
}
