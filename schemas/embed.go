// Package schemas embeds the JSON Schemas that define Gatehouse's contracts:
// the configuration file, the policy input, the identity document, the
// decision, and the bundle data. The gateway validates configuration and
// bundle data against them at load; policy authors point `opa check --schema`
// at input.schema.json. capabilities.json (not a schema) is the gateway's OPA
// capabilities for `opa check --capabilities`, kept equal to what the binary
// enforces by capabilities_test.go.
package schemas

import "embed"

// FS holds every *.json file in this folder: the *.schema.json schemas and
// capabilities.json.
//
//go:embed *.json
var FS embed.FS
