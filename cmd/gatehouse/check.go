package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/check"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// checkCmd builds everything `run` would — config schema and semantic
// checks (all errors of one run together), TLS material, listener
// addresses, every API definition, referenced file and secret, every
// authenticator, the compiled policy — without opening a listener.
// Warnings (unused schemes, issuers, key managers; an address nothing
// listens on) exit 0 unless -strict; -online also probes the remote key
// sets, discovery documents, introspection endpoints and bundle services.
func checkCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "gatehouse.yaml", "config file")
	strict := fs.Bool("strict", false, "treat warnings as errors")
	online := fs.Bool("online", false, "also probe remote key sets, discovery documents, introspection endpoints and bundle services")
	if code, stop := parseFlags(fs, args, stdout, stderr); stop {
		return code
	}
	rep, err := check.File(context.Background(), *cfgPath, check.Options{Online: *online, Build: gateway.BuildForCheck})
	if err != nil {
		var ces config.Errors
		if errors.As(err, &ces) {
			fmt.Fprintf(stderr, "gatehouse check: %d problem(s):\n", len(ces))
			for _, e := range ces {
				fmt.Fprintf(stderr, "  %v\n", e)
			}
		} else {
			fmt.Fprintf(stderr, "gatehouse check: %v\n", err)
		}
		return 1
	}
	code := 0
	for _, w := range rep.Warnings {
		fmt.Fprintf(stderr, "warning: %v\n", w)
		if *strict {
			code = 1
		}
	}
	for _, p := range rep.Probes {
		if p.Err != nil {
			fmt.Fprintf(stderr, "FAIL %s (%s): %v\n", p.What, p.Pointer, p.Err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "ok   %s: %s\n", p.What, p.Detail)
	}
	if code != 0 {
		return code
	}
	fmt.Fprintf(stdout, "ok: %d API(s), %d operation(s), policy %s", rep.APIs, rep.Operations, rep.Revision)
	if len(rep.Warnings) > 0 {
		fmt.Fprintf(stdout, ", %d warning(s)", len(rep.Warnings))
	}
	fmt.Fprintln(stdout)
	return 0
}
