package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/bundles/policytest"
)

// policyCmd holds what a policy author needs in CI: the gateway's OPA
// capabilities (for the stock opa binary) and a test runner that applies
// them, the base policy and the input schema in one command.
func policyCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		policyUsage(stderr)
		return 2
	}
	switch args[0] {
	case "capabilities":
		return policyCapabilitiesCmd(args[1:], stdout, stderr)
	case "test":
		return policyTestCmd(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		policyUsage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "gatehouse policy: unknown command %q\n\n", args[0])
	policyUsage(stderr)
	return 2
}

func policyUsage(w io.Writer) {
	fmt.Fprint(w, `usage: gatehouse policy <command> [flags]

commands:
  capabilities  print the OPA capabilities the gateway allows policies
                (for opa check/test --capabilities; same as schemas/capabilities.json)
  test          run opa tests of the given files/directories with the base policy,
                the gateway's capabilities and schemas/input.schema.json
`)
}

func policyCapabilitiesCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy capabilities", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if code, stop := parseFlags(fs, args, stdout, stderr); stop {
		return code
	}
	b, err := bundles.CapabilitiesJSON()
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse policy capabilities: %v\n", err)
		return 1
	}
	_, _ = stdout.Write(b)
	return 0
}

func policyTestCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: gatehouse policy test [flags] path [path ...]\n\n")
		fs.PrintDefaults()
	}
	var opts policytest.Options
	fs.BoolVar(&opts.Verbose, "v", false, "print every test, print() output and failure traces")
	fs.StringVar(&opts.Run, "run", "", "run only tests whose name matches this regular expression")
	fs.BoolVar(&opts.Coverage, "coverage", false, "print per-file coverage of the given (non-test) policy files")
	fs.Float64Var(&opts.Threshold, "threshold", 0, "fail when coverage of the given policy files is below this percentage (implies -coverage)")
	fs.BoolVar(&opts.NoBase, "no-base", false, "do not load the base policy compiled into the binary")
	fs.DurationVar(&opts.Timeout, "timeout", 0, "bound on each test (default 5s)")
	if code, stop := parseFlags(fs, args, stdout, stderr); stop {
		return code
	}
	opts.Paths = fs.Args()
	if len(opts.Paths) == 0 {
		fs.Usage()
		return 2
	}
	err := policytest.Run(context.Background(), stdout, opts)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, policytest.ErrFailed):
		return 1 // the reporter printed the failures
	default:
		fmt.Fprintf(stderr, "gatehouse policy test: %v\n", err)
		return 1
	}
}
