package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/apikeys"
	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// apikeyCmd works with API keys offline, with the configured token service
// key — for scripts and CI that cannot (or should not) call the endpoint:
//
//	gatehouse apikey issue -c gatehouse.yaml --api petstore:1.0.0 --validity 720h --subject partner-1 --application app-1
//	gatehouse apikey jwks  -c gatehouse.yaml    the verification key set (what replicas load)
//	gatehouse apikey hash  < key.txt            the SHA-256 to list a static key in bundle data
func apikeyCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		apikeyUsage(stderr)
		return 2
	}
	if isHelp(args[0]) {
		apikeyUsage(stdout)
		return 0
	}
	switch args[0] {
	case "issue":
		return apikeyIssue(args[1:], stdout, stderr)
	case "jwks":
		return apikeyJWKS(args[1:], stdout, stderr)
	case "hash":
		fs := flag.NewFlagSet("apikey hash", flag.ContinueOnError)
		fs.Usage = func() {
			fmt.Fprintln(fs.Output(), "usage: gatehouse apikey hash < key.txt   (prints the key's SHA-256; no flags)")
		}
		if code, stop := parseFlags(fs, args[1:], stdout, stderr); stop {
			return code
		}
		return apikeyHash(os.Stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "gatehouse apikey: unknown subcommand %q\n", args[0])
	apikeyUsage(stderr)
	return 2
}

func apikeyUsage(w io.Writer) {
	fmt.Fprint(w, `usage: gatehouse apikey <issue|jwks|hash> [flags]

  issue  sign a new API key with api_keys.signing_key_file; prints the key on stdout
  jwks   print the key set that verifies API keys (for replicas' verification_jwks_files)
  hash   read a key on stdin, print its SHA-256 for data.gatehouse.static_api_keys
`)
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func apikeyIssue(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("apikey issue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "gatehouse.yaml", "config file")
	var apis, scopes listFlag
	fs.Var(&apis, "api", "an API the key may call, NAME or NAME:VERSION (repeat for several)")
	fs.Var(&scopes, "scope", "a scope the key carries (repeat for several)")
	all := fs.Bool("all-apis", false, "the key may call every API")
	validity := fs.String("validity", "", "how long the key is valid, e.g. 720h (default: api_keys.default_validity)")
	noExpiry := fs.Bool("no-expiry", false, "a key without expiry (only if api_keys.allow_no_expiry)")
	subject := fs.String("subject", "", "the key's subject (default: the application)")
	app := fs.String("application", "", "the application the key belongs to")
	plan := fs.String("plan", "", "subscription plan")
	asJSON := fs.Bool("json", false, "print the key with its id, expiry and APIs as JSON")
	if code, stop := parseFlags(fs, args, stdout, stderr); stop {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gatehouse apikey issue: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	req := apikeys.Request{AllAPIs: *all, Validity: *validity, NoExpiry: *noExpiry, Subject: *subject, Application: *app, Plan: *plan, Scopes: scopes}
	for _, a := range apis {
		name, version, _ := strings.Cut(a, ":")
		req.APIs = append(req.APIs, authn.APIRef{Name: name, Version: version})
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse apikey issue: %v\n", err)
		return 1
	}
	svc, err := gateway.APIKeyService(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse apikey issue: %v\n", err)
		return 1
	}
	out, err := svc.Issue(req)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse apikey issue: %v\n", err)
		if errors.Is(err, apikeys.ErrInvalidRequest) {
			return 2
		}
		return 1
	}
	if *asJSON {
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return 0
	}
	exp := "never"
	if out.ExpiresAt != nil {
		exp = out.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z")
	}
	fmt.Fprintf(stderr, "issued API key id=%s subject=%s expires=%s\n", out.ID, out.Subject, exp)
	fmt.Fprintln(stdout, out.Key)
	return 0
}

func apikeyJWKS(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("apikey jwks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "gatehouse.yaml", "config file")
	if code, stop := parseFlags(fs, args, stdout, stderr); stop {
		return code
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse apikey jwks: %v\n", err)
		return 1
	}
	svc, err := gateway.APIKeyService(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse apikey jwks: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, string(svc.JWKS()))
	return 0
}

// apikeyHash reads one key (the first line; surrounding whitespace
// trimmed) and prints its SHA-256. The key is never echoed.
func apikeyHash(stdin io.Reader, stdout, stderr io.Writer) int {
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 0, 4096), authn.DefaultMaxAPIKeySize+2)
	if !sc.Scan() {
		fmt.Fprintln(stderr, "gatehouse apikey hash: no key on stdin")
		return 1
	}
	key := strings.TrimSpace(sc.Text())
	if key == "" {
		fmt.Fprintln(stderr, "gatehouse apikey hash: empty key")
		return 1
	}
	fmt.Fprintln(stdout, authn.HashAPIKey(key))
	return 0
}
