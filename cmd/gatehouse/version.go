package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/gatehouse/gatehouse/gateway/buildinfo"
)

// versionCmd prints which build this is: what `make build`/`make release`
// stamped with -ldflags, else what the Go toolchain recorded
// (gateway/buildinfo). The same facts are the labels of gatehouse_build_info
// on /metrics.
//
//	gatehouse version          human-readable, one fact per line
//	gatehouse version --json   one JSON object, for scripts
func versionCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object")
	if code, stop := parseFlags(fs, args, stdout, stderr); stop {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gatehouse version: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	info := buildinfo.Get()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(info); err != nil {
			fmt.Fprintf(stderr, "gatehouse version: %v\n", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stdout, "gatehouse %s\ncommit:   %s\nbuilt:    %s\ngo:       %s\nopa:      %s\nplatform: %s\n",
		info.Version, info.Commit, info.Date, info.GoVersion, info.OPA, info.Platform)
	return 0
}
