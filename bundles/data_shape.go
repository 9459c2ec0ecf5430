package bundles

import (
	"fmt"
	"maps"
	"slices"
)

// flatShape names the first member of gatehouse.applications or
// gatehouse.subscriptions that has the flat shape of earlier releases
// (application id at the top, data.gatehouse.subscriptions[<app>] = [...]),
// or "" when there is none. Both are now keyed by identity source first
// (docs/migrating-bundle-data.md): an application id is only unique within
// the issuer, key manager or CA that issued it. The data schema refuses
// the flat shape too; this check only words the refusal so that an
// operator upgrading knows what to do, instead of reading "want object".
func flatShape(data map[string]any) string {
	gh, _ := data["gatehouse"].(map[string]any)
	if subs, ok := gh["subscriptions"].(map[string]any); ok {
		for _, k := range slices.Sorted(maps.Keys(subs)) {
			if _, list := subs[k].([]any); list {
				return fmt.Sprintf("gatehouse.subscriptions[%q] is a list", k)
			}
		}
	}
	if apps, ok := gh["applications"].(map[string]any); ok {
		for _, k := range slices.Sorted(maps.Keys(apps)) {
			app, _ := apps[k].(map[string]any)
			for _, member := range [...]string{"name", "owner", "description", "oauth2"} {
				if _, ok := app[member]; ok {
					return fmt.Sprintf("gatehouse.applications[%q] has the member %q of an application", k, member)
				}
			}
		}
	}
	return ""
}

// CheckKeyedBySource refuses bundle data (the document from its root) that
// holds applications or subscriptions in the flat shape of earlier
// releases, as loading it would; for tools that edit data files.
func CheckKeyedBySource(data map[string]any) error {
	if what := flatShape(data); what != "" {
		return errFlatShape("data", what)
	}
	return nil
}

// errFlatShape is the refusal of flat-shaped data.
func errFlatShape(origin, what string) error {
	return fmt.Errorf("%w: %s: %s: applications and subscriptions are keyed by identity source, then application id "+
		"(data.gatehouse.subscriptions[<source>][<application>]); move each entry under the issuer, key manager or api_keys name "+
		"that issues its credentials (docs/migrating-bundle-data.md)", ErrData, origin, what)
}
