package pipeline

import (
	"testing"

	"github.com/gatehouse/gatehouse/gateway/edge"
	"github.com/gatehouse/gatehouse/gateway/openapi"
)

func TestEscapesBase(t *testing.T) {
	c := &Core{APIs: []*API{
		{API: &openapi.API{BasePath: "/shapes"}},
		{API: &openapi.API{BasePath: "/shapes/v2"}},
		{API: &openapi.API{BasePath: "/bare"}},
	}}
	tests := []struct {
		name, in string
		escapes  bool
	}{
		{"ok/inside", "/shapes/a/../single", false},
		{"ok/no-dots", "/shapes/single", false},
		{"ok/nested-inside", "/shapes/v2/a/../b", false},
		{"fail/into-other-api", "/shapes/../bare/nothing", true},
		{"fail/out-of-own-base-and-back", "/shapes/../shapes/single", true},
		{"fail/nested-base-popped", "/shapes/v2/../v2/b", true},
		{"fail/from-nowhere-into-api", "/x/../shapes/single", true},
		{"ok/outside-every-api", "/x/../y", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, depth, err := edge.NormalizePath(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.escapesBase(p, depth); got != tc.escapes {
				t.Fatalf("escapesBase(%q→%q, %d) = %v, want %v", tc.in, p, depth, got, tc.escapes)
			}
		})
	}
}
