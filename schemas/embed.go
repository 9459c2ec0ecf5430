// Package schemas embeds the JSON Schemas that define Gatehouse's contracts:
// the configuration file, the policy input, the identity document, the
// decision, and the bundle data. The gateway validates configuration and
// bundle data against them at load; policy authors point `opa check --schema`
// at this folder.
package schemas

import "embed"

// FS holds every *.json schema in this folder.
//
//go:embed *.json
var FS embed.FS
