package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestGet(t *testing.T) {
	vcs := func(rev, when, modified string) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: when}, {Key: "vcs.modified", Value: modified},
		}}
	}
	tests := []struct {
		name                string
		bi                  *debug.BuildInfo
		ver, rev, when      string
		wantVer, wantCommit string
		wantDate            string
	}{
		{name: "ok/ldflags win over build info", bi: vcs("aaaa", "2026-01-01T00:00:00Z", "false"),
			ver: "v1.2.3", rev: "bbbb", when: "2026-02-02T00:00:00Z",
			wantVer: "v1.2.3", wantCommit: "bbbb", wantDate: "2026-02-02T00:00:00Z"},
		{name: "ok/vcs stamp without ldflags", bi: vcs("aaaa", "2026-01-01T00:00:00Z", "false"),
			wantVer: "dev", wantCommit: "aaaa", wantDate: "2026-01-01T00:00:00Z"},
		{name: "ok/modified tree is marked dirty", bi: vcs("aaaa", "2026-01-01T00:00:00Z", "true"),
			wantVer: "dev", wantCommit: "aaaa-dirty", wantDate: "2026-01-01T00:00:00Z"},
		{name: "ok/dirty is not doubled", bi: vcs("aaaa", "", "true"), rev: "cccc-dirty",
			wantVer: "dev", wantCommit: "cccc-dirty", wantDate: "unknown"},
		{name: "ok/go install of a tagged module", bi: &debug.BuildInfo{Main: debug.Module{Version: "v0.9.0"}},
			wantVer: "v0.9.0", wantCommit: "unknown", wantDate: "unknown"},
		{name: "ok/no build info at all", bi: nil,
			wantVer: "dev", wantCommit: "unknown", wantDate: "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := get(tt.bi, tt.ver, tt.rev, tt.when)
			if got.Version != tt.wantVer || got.Commit != tt.wantCommit || got.Date != tt.wantDate {
				t.Errorf("got %+v, want version %q commit %q date %q", got, tt.wantVer, tt.wantCommit, tt.wantDate)
			}
			if got.GoVersion != runtime.Version() || got.OPA == "" || got.Platform != runtime.GOOS+"/"+runtime.GOARCH {
				t.Errorf("toolchain facts: %+v", got)
			}
		})
	}
}
