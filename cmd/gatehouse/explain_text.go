package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// writeText renders an explanation for people: a summary table (request,
// operation, security alternatives, each authenticator's outcome, the
// decision), then the identities, the policy input and the decision as
// indented JSON.
func writeText(w io.Writer, ev *pipeline.Evaluation, out map[string]any) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("request", ev.Method+" "+ev.Path)
	status, _ := out["status"].(int)
	verdict := fmt.Sprintf("%v → %d", out["result"], status)
	if r, ok := out["reason"].(string); ok {
		verdict += " (" + r + ")"
	}
	if op := ev.Operation(); op != nil {
		row("operation", fmt.Sprintf("%s %s, %s: %s %s", op.API.Name, op.API.Version, op.ID, op.Method, op.API.BasePath+op.Path))
		row("security", securityText(op))
		if as, ok := out["authenticators"].([]map[string]any); ok {
			for i, a := range as {
				k := ""
				if i == 0 {
					k = "authentication"
				}
				v := fmt.Sprintf("%s: %s", a["scheme"], a["outcome"])
				if r, ok := a["reason"]; ok {
					v += " (" + fmt.Sprint(r) + ")"
				}
				row(k, v)
			}
		}
	}
	row("result", verdict)
	if d := ev.Decision; d != nil {
		row("reasons", "["+strings.Join(d.Reasons, ", ")+"]")
		alt := "none"
		if d.Alternative >= 0 {
			alt = fmt.Sprint(d.Alternative)
			if len(d.Schemes) > 0 {
				alt += " (" + strings.Join(d.Schemes, " AND ") + ")"
			}
		}
		row("alternative", alt)
		if len(d.Headers) > 0 {
			names := make([]string, 0, len(d.Headers))
			for k := range d.Headers {
				names = append(names, k)
			}
			sort.Strings(names)
			var hs []string
			for _, k := range names {
				hs = append(hs, k+": "+d.Headers[k])
			}
			row("upstream headers", strings.Join(hs, "; "))
		}
	}
	if f, ok := out["failure"].(string); ok {
		row("failure", f)
	}
	row("bundles", fmt.Sprint(out["bundle_revision"]))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, part := range []string{"identities", "input", "decision"} {
		v, ok := out[part]
		if !ok {
			continue
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "\n%s:\n%s\n", part, b); err != nil {
			return err
		}
	}
	return nil
}

// securityText renders the alternatives: "jwt[read] AND basic OR {}".
func securityText(op *gateway.Operation) string {
	if op.Public {
		return "public"
	}
	if len(op.Security) == 0 {
		return "none declared (denied)"
	}
	alts := make([]string, 0, len(op.Security))
	for _, req := range op.Security {
		if len(req) == 0 {
			alts = append(alts, "{} (anonymous)")
			continue
		}
		parts := make([]string, 0, len(req))
		for _, s := range req {
			p := s.Scheme
			if len(s.Scopes) > 0 {
				p += "[" + strings.Join(s.Scopes, " ") + "]"
			}
			parts = append(parts, p)
		}
		alts = append(alts, strings.Join(parts, " AND "))
	}
	return strings.Join(alts, " OR ")
}
