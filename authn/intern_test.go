package authn

import (
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// Interned values are equal to what was given, and two equal values share
// one copy; over-long lists are left alone.
func TestIntern(t *testing.T) {
	long := []string{strings.Repeat("s", maxListKey)}
	tests := []struct {
		name   string
		a, b   []string
		shared bool
	}{
		{"ok/scopes", []string{"read", "write"}, []string{"read", "write"}, true},
		{"ok/one", []string{"api"}, []string{"api"}, true},
		{"ok/not-a-prefix", []string{"read", "write"}, []string{"read"}, false},
		{"ok/no-separator-confusion", []string{"ab", "c"}, []string{"a", "bc"}, false},
		{"none/empty", []string{}, []string{}, false},
		{"none/too-long", long, slices.Clone(long), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := internList(slices.Clone(tc.a)), internList(slices.Clone(tc.b))
			if !slices.Equal(a, tc.a) || !slices.Equal(b, tc.b) {
				t.Fatalf("interned %q %q, given %q %q", a, b, tc.a, tc.b)
			}
			same := len(a) > 0 && len(b) > 0 && unsafe.SliceData(a) == unsafe.SliceData(b)
			if same != tc.shared {
				t.Fatalf("shared = %v, want %v", same, tc.shared)
			}
		})
	}
	x, y := internString(strings.Clone("https://idp.example/")), internString(strings.Clone("https://idp.example/"))
	if x != y || unsafe.StringData(x) != unsafe.StringData(y) {
		t.Fatal("equal strings are not shared")
	}
}
