// Package buildinfo says which build of Gatehouse is running: the version,
// commit and build date that `make build` and `make release` stamp with
// -ldflags, falling back to what the Go toolchain records in every binary
// (runtime/debug.ReadBuildInfo: module version, VCS revision and time), plus
// the Go and embedded OPA versions. `gatehouse version` prints it and the
// admin /metrics exports it as gatehouse_build_info, so an operator can tell
// which build a replica runs without shelling into it.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"

	opaversion "github.com/open-policy-agent/opa/v1/version"
)

// Set with -ldflags "-X github.com/gatehouse/gatehouse/gateway/buildinfo.version=…"
// (see the Makefile). Empty means "take it from the Go build info".
var (
	version string
	commit  string
	date    string
)

// Info is one build's identity. Every field is non-empty; unknown values
// are "unknown" so metric labels and scripts never see an empty string.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	OPA       string `json:"opa_version"`
	Platform  string `json:"platform"`
}

// Get assembles the Info of the running binary.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return get(bi, version, commit, date)
}

// get is Get with its inputs explicit, for tests.
func get(bi *debug.BuildInfo, ver, rev, when string) Info {
	var modified bool
	if bi != nil {
		if ver == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			ver = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.time":
				if when == "" {
					when = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if rev != "" && modified && !strings.HasSuffix(rev, "-dirty") {
		rev += "-dirty"
	}
	return Info{
		Version:   orUnknown(ver, "dev"),
		Commit:    orUnknown(rev, "unknown"),
		Date:      orUnknown(when, "unknown"),
		GoVersion: runtime.Version(),
		OPA:       opaversion.Version,
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
}

func orUnknown(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
