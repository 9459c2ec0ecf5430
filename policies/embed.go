// Package policies holds Gatehouse's base authorization policy, written in Rego v1.
//
// The entry point is data.gatehouse.authz.decision; README.md describes the
// input, the decision and how users extend the policy from their own bundles.
package policies

import "embed"

// FS is the base policy compiled into the binary: every .rego file under
// gatehouse/authz/, with paths such as "gatehouse/authz/decision.rego".
//
// The *_test.rego files are embedded too (they are small, and `opa test`
// needs them beside the policy); the Go engine skips any file ending in
// _test.rego when it compiles the policy, so tests never reach production.
//
//go:embed gatehouse/authz/*.rego
var FS embed.FS
