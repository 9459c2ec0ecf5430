// Command gatehouse is the Gatehouse API security gateway.
//
//	gatehouse run     -c gatehouse.yaml   serve
//	gatehouse check   -c gatehouse.yaml   validate config, API definitions and policies
//	gatehouse explain -c gatehouse.yaml --method GET --url /petstore/v1/pets/1 -H 'Authorization: Bearer …'
//	gatehouse pki     -out dev/           generate development certificates and keys
//	gatehouse policy  test examples/bundles/acme   opa tests with the base policy and the gateway's sandbox
//	gatehouse apikey  issue -c gatehouse.yaml --api petstore:1.0.0 --validity 720h --subject partner
package main

import (
	"fmt"
	"io"
	"os"
)

// commands maps a subcommand to its entry point; each parses its own flags
// and returns the process exit code.
var commands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"run":     runCmd,
	"check":   checkCmd,
	"explain": explainCmd,
	"pki":     pkiCmd,
	"apikey":  apikeyCmd,
	"app":     appCmd,
	"policy":  policyCmd,
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return 2
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: gatehouse <command> [flags]

commands:
  run      serve the gateway (-c gatehouse.yaml)
  check    validate config, API definitions and policies; exit 1 on any problem
  explain  dry-run one request: matched operation, authenticator outcomes, input, decision
  pki      generate development certificates, keys and demo tokens
  apikey   issue API keys offline, print their verification keys, hash static keys
  app      add clients of the internal key manager to bundle data, rotate their secrets
  policy   print the gateway's OPA capabilities; test policies the way the gateway runs them

Run 'gatehouse <command> -h' for the flags of a command.
`)
}
