package gateway

import "github.com/gatehouse/gatehouse/gateway/openapi"

// The API definitions are loaded by gateway/openapi; these aliases keep the
// names the generation build and the authenticator wiring use. New code
// names the openapi types directly.
type (
	// API is one loaded API definition.
	API = openapi.API
	// Operation is one (method, path) of an API.
	Operation = openapi.Operation
	// SchemeDef is an OpenAPI securityScheme as the gateway needs it.
	SchemeDef = openapi.SchemeDef
)
