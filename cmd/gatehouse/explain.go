package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

// explainCmd dry-runs one request through a freshly built generation, with
// the decision core the proxy runs (pipeline.Core.Evaluate, which also signs
// the identity assertion of an allowed request): the matched operation, each
// authenticator's outcome, the identity documents, the policy input and the
// decision. No upstream is called.
func explainCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "gatehouse.yaml", "config file")
	method := fs.String("method", "GET", "request method")
	target := fs.String("url", "", "request path and query, e.g. /petstore/v1/pets/1 (required)")
	host := fs.String("host", "localhost", "Host header")
	certFile := fs.String("cert", "", "client certificate (PEM) presented over TLS")
	remote := fs.String("remote", "127.0.0.1:40000", "client address")
	trace := fs.Bool("trace", false, "print the policy evaluation trace (which rules fired)")
	format := fs.String("format", "json", "output format: json or text")
	at := fs.String("time", "", "request time (RFC 3339) the policy sees as input.time; default now")
	requestID := fs.String("request-id", "explain", "request id the policy sees as input.request.id")
	data := fs.String("data", "", "request body (Content-Type application/json unless -H sets one); the policy sees it on operations with x-gatehouse-policy-body")
	dataFile := fs.String("data-file", "", "read the request body from this file (as --data)")
	var headers headerFlags
	fs.Var(&headers, "H", "request header 'Name: value' (repeatable)")
	if code, stop := parseFlags(fs, args, stdout, stderr); stop {
		return code
	}
	if *target == "" || !strings.HasPrefix(*target, "/") {
		fmt.Fprintln(stderr, "gatehouse explain: --url must be a path starting with /")
		return 2
	}
	if *format != "json" && *format != "text" {
		fmt.Fprintln(stderr, "gatehouse explain: --format must be json or text")
		return 2
	}
	if *data != "" && *dataFile != "" {
		fmt.Fprintln(stderr, "gatehouse explain: --data and --data-file exclude each other")
		return 2
	}
	body := []byte(*data)
	if *dataFile != "" {
		b, err := os.ReadFile(*dataFile)
		if err != nil {
			fmt.Fprintf(stderr, "gatehouse explain: --data-file: %v\n", err)
			return 1
		}
		body = b
	}
	now := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			fmt.Fprintf(stderr, "gatehouse explain: --time: %v\n", err)
			return 2
		}
		now = t
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse explain: %v\n", err)
		return 1
	}
	g, err := gateway.BuildGeneration(context.Background(), cfg, gateway.BuildOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse explain: %v\n", err)
		return 1
	}
	defer g.Close()

	facts := pipeline.Facts{Method: strings.ToUpper(*method), Target: *target, Host: *host, Header: http.Header{}, Body: body, RemoteAddr: *remote}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			fmt.Fprintf(stderr, "gatehouse explain: header %q is not 'Name: value'\n", h)
			return 2
		}
		facts.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if *certFile != "" {
		certs, err := authn.ReadPEMCertificates(*certFile)
		if err != nil {
			fmt.Fprintf(stderr, "gatehouse explain: %v\n", err)
			return 1
		}
		facts.Certificates = certs
	}
	r, err := facts.Request()
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse explain: --url: %v\n", err)
		return 2
	}

	var opts []rego.EvalOption
	var tracer *topdown.BufferTracer
	if *trace {
		tracer = topdown.NewBufferTracer()
		opts = append(opts, rego.EvalQueryTracer(tracer))
	}
	ev := g.Evaluate(r, *requestID, now, opts...)
	out := explanation(ev)
	out["bundle_revision"] = g.Engine.Revision()
	var err2 error
	if *format == "text" {
		err2 = writeText(stdout, ev, out)
	} else {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err2 = enc.Encode(out)
	}
	if err2 != nil {
		fmt.Fprintf(stderr, "gatehouse explain: %v\n", err2)
		return 1
	}
	if tracer != nil {
		var buf bytes.Buffer
		topdown.PrettyTraceWithOpts(&buf, *tracer, topdown.PrettyTraceOptions{Locations: true})
		fmt.Fprintln(stdout, "--- trace ---")
		_, _ = stdout.Write(buf.Bytes())
	}
	return 0
}

func explanation(ev *pipeline.Evaluation) map[string]any {
	out := map[string]any{
		"request": map[string]any{"method": ev.Method, "path": ev.Path},
	}
	status := ev.Status
	if status == 0 {
		status = http.StatusOK
		out["result"] = "allow (would be forwarded upstream)"
	} else {
		out["result"] = "deny"
	}
	out["status"] = status
	if ev.Reason != "" {
		out["reason"] = string(ev.Reason)
	}
	if ev.Failure != nil {
		out["failure"] = ev.Failure.Error()
	}
	if ev.AssertionFailure != nil {
		out["failure"] = "identity assertion: " + ev.AssertionFailure.Error()
	}
	op := ev.Operation()
	if op == nil {
		return out
	}
	out["operation"] = map[string]any{
		"api": op.API.Name, "version": op.API.Version, "id": op.ID,
		"method": op.Method, "path": op.API.BasePath + op.Path, "public": op.Public,
	}
	var authns []map[string]any
	identities := map[string]any{}
	for _, scheme := range op.Schemes {
		a := map[string]any{"scheme": scheme, "outcome": "not_presented"}
		if op.Public {
			a["outcome"] = "skipped (public operation)"
		}
		for _, o := range ev.Outcomes {
			switch {
			case o.Scheme != scheme:
			case o.Identity != nil:
				a["outcome"] = "verified"
				identities[scheme] = o.Identity.Map()
			default:
				a["outcome"] = "rejected"
				a["reason"] = string(o.Rejection.Reason)
				if o.Rejection.Detail != "" {
					a["detail"] = o.Rejection.Detail
				}
			}
		}
		authns = append(authns, a)
	}
	out["authenticators"] = authns
	out["identities"] = identities
	if in := ev.Input(); in != nil {
		if v, err := ast.JSON(in); err == nil {
			out["input"] = v
		}
	}
	if ev.Decision != nil {
		if v, err := ev.WholeDecision().JSON(); err == nil {
			out["decision"] = v
		}
	}
	return out
}
