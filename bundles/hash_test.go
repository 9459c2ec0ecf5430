package bundles_test

import (
	"context"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/bundles"
)

// A local bundle's revision is its .manifest revision when it declares one,
// else a short content hash that changes with every policy or data change
// (and not with its tests), so audit lines and decision logs tell two
// policies apart.
func TestLocalBundleRevision(t *testing.T) {
	base := map[string]string{
		"rules.rego": "package gatehouse.custom\n\ndeny contains {\"reason\": \"x\"} if input.request.method == \"TRACE\"\n",
		"data.json":  `{"acme": {"limit": 1}}`,
	}
	with := func(k, v string) map[string]string {
		m := maps.Clone(base)
		m[k] = v
		return m
	}
	revision := func(t *testing.T, files map[string]string) string {
		t.Helper()
		dir := writeBundle(t, files)
		e, err := bundles.Load(context.Background(), bundles.Options{Base: true, Bundles: []string{dir}})
		if err != nil {
			t.Fatal(err)
		}
		return e.Revisions()[filepath.Base(dir)]
	}
	unversioned := revision(t, base)
	if !strings.HasPrefix(unversioned, "sha256:") || len(unversioned) != len("sha256:")+12 {
		t.Fatalf("revision of a bundle without a manifest revision: %q, want sha256:<12 hex>", unversioned)
	}
	tests := []struct {
		name  string
		files map[string]string
		same  bool   // same revision as the base bundle
		want  string // exact revision, when set
	}{
		{name: "same/identical-copy", files: base, same: true},
		{name: "same/test-file-changed", files: with("rules_test.rego", "package gatehouse.custom_test\n\ntest_x if true\n"), same: true},
		{name: "same/data-key-order", files: with("data.json", `{"acme":{"limit":1}}`), same: true},
		{name: "changed/rule", files: with("rules.rego", strings.Replace(base["rules.rego"], "TRACE", "PATCH", 1))},
		{name: "changed/data", files: with("data.json", `{"acme": {"limit": 2}}`)},
		{name: "changed/new-file", files: with("more.rego", "package gatehouse.custom\n\nheaders[\"x-a\"] := \"1\"\n")},
		{name: "manifest/revision-wins", files: with(".manifest", `{"revision": "acme-7"}`), want: "acme-7"},
		{name: "manifest/roots-only", files: with(".manifest", `{"roots": ["gatehouse/custom", "acme"]}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := revision(t, tc.files)
			switch {
			case tc.want != "":
				if got != tc.want {
					t.Fatalf("revision %q, want %q", got, tc.want)
				}
			case tc.same && got != unversioned:
				t.Fatalf("revision %q, want the unchanged %q", got, unversioned)
			case !tc.same && got == unversioned:
				t.Fatalf("revision %q did not change", got)
			}
		})
	}
}
