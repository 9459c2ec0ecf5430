// Command gatehouse is the Gatehouse API security gateway.
//
//	gatehouse run     -c gatehouse.yaml   serve
//	gatehouse check   -c gatehouse.yaml   validate config, API definitions and policies
//	gatehouse explain -c gatehouse.yaml --method GET --url /petstore/v1/pets/1 -H 'Authorization: Bearer …'
//	gatehouse pki     -out dev/           generate development certificates and keys
//	gatehouse policy  test examples/bundles/acme   opa tests with the base policy and the gateway's sandbox
//	gatehouse apikey  issue -c gatehouse.yaml --api petstore:1.0.0 --validity 720h --subject partner
//	gatehouse version [--json]            version, commit, build date, Go and OPA versions
//	gatehouse completion bash|zsh|fish    a shell completion script
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// commands maps a subcommand to its entry point; each parses its own flags
// and returns the process exit code. It is filled in init because
// completion reads it.
var commands map[string]func(args []string, stdout, stderr io.Writer) int

func init() {
	commands = map[string]func(args []string, stdout, stderr io.Writer) int{
		"run":        runCmd,
		"check":      checkCmd,
		"explain":    explainCmd,
		"pki":        pkiCmd,
		"apikey":     apikeyCmd,
		"app":        appCmd,
		"policy":     policyCmd,
		"version":    versionCmd,
		"completion": completionCmd,
	}
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return 0
	case "help":
		if len(args) > 1 {
			return dispatch([]string{args[1], "-h"}, stdout, stderr)
		}
		usage(stdout)
		return 0
	case "--version", "-version":
		return versionCmd(args[1:], stdout, stderr)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd(args[1:], stdout, stderr)
}

// parseFlags parses a subcommand's flags. Asked for help (-h, --help) it
// prints the flags on stdout and says to exit 0; a bad flag prints them on
// stderr and says to exit 2. stop is false when the command should go on.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, stop bool) {
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		_, _ = buf.WriteTo(stdout)
		return 0, true
	default:
		_, _ = buf.WriteTo(stderr)
		return 2, true
	}
}

// isHelp reports whether a command group (apikey, app) was asked for help
// instead of a subcommand.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: gatehouse <command> [flags]

commands:
  run         serve the gateway (-c gatehouse.yaml)
  check       validate config, API definitions and policies; exit 1 on any problem
  explain     dry-run one request: matched operation, authenticator outcomes, input, decision
  pki         generate development certificates, keys and demo tokens
  apikey      issue API keys offline, print their verification keys, hash static keys
  app         add clients of the internal key manager to bundle data, rotate their secrets
  policy      print the gateway's OPA capabilities; test policies the way the gateway runs them
  version     print the version, commit, build date, Go and OPA versions (also --version)
  completion  print a shell completion script: bash, zsh or fish

Run 'gatehouse <command> -h' for the flags of a command.
`)
}
