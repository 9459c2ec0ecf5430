package config

import "testing"

func TestParseMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int64
		wantErr  bool
	}{
		{name: "bytes", in: "1048576", want: 1 << 20},
		{name: "B", in: "10B", want: 10},
		{name: "KiB", in: "4KiB", want: 4 << 10},
		{name: "MiB", in: "512MiB", want: 512 << 20},
		{name: "GiB", in: "2GiB", want: 2 << 30},
		{name: "TiB", in: "1TiB", want: 1 << 40},
		{name: "decimal unit", in: "512MB", wantErr: true},
		{name: "negative", in: "-1", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "fraction", in: "1.5GiB", wantErr: true},
		{name: "overflow", in: "99999999999TiB", wantErr: true},
		{name: "overflow digits", in: "99999999999999999999999", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMemoryLimit(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseMemoryLimit(%q) = %d, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseMemoryLimit(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}
