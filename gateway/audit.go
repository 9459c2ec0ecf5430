package gateway

import (
	"time"

	"github.com/gatehouse/gatehouse/bundles"
)

// auditEvent gathers what one request's audit line says. It holds outcome
// names, reasons and credential ids (SHA-256 prefixes) — never a credential.
type auditEvent struct {
	start     time.Time
	requestID string
	method    string
	gen       *Generation
	op        *compiledOp
	outcomes  []outcome
	decision  *bundles.Decision
	reasons   []string
	forwarded bool
}

type outcome struct {
	scheme       string
	result       string // verified, a rejection reason, or error
	credentialID string
}

// finish records metrics and writes the one audit line of a request.
func (s *Server) finish(rec *recorder, ev *auditEvent) {
	dur := time.Since(ev.start)
	apiName, opID := "", ""
	if ev.op != nil {
		apiName, opID = ev.op.api.Name, ev.op.ID
	}
	decision := "none"
	switch {
	case ev.decision != nil && ev.forwarded:
		decision = "allow"
	case ev.decision != nil:
		decision = "deny"
	case len(ev.reasons) > 0 && ev.op != nil:
		decision = "error"
	}
	s.metrics.request(apiName, opID, decision, rec.status)
	s.metrics.requestSeconds.Observe(dur.Seconds())
	if s.audit == nil {
		return
	}
	schemes := make([]string, 0, len(ev.outcomes))
	results := make([]string, 0, len(ev.outcomes))
	creds := make([]string, 0, len(ev.outcomes))
	for _, o := range ev.outcomes {
		schemes = append(schemes, o.scheme)
		results = append(results, o.result)
		if o.credentialID != "" {
			creds = append(creds, o.credentialID)
		}
	}
	revision := ""
	if ev.gen != nil && ev.gen.Engine != nil {
		revision = ev.gen.Engine.Revision()
	}
	s.audit.Info("request",
		"request_id", ev.requestID,
		"method", ev.method,
		"api", apiName,
		"operation", opID,
		"schemes", schemes,
		"outcomes", results,
		"credential_ids", creds,
		"decision", decision,
		"reasons", ev.reasons,
		"status", rec.status,
		"duration_ms", float64(dur.Microseconds())/1000,
		"generation", genID(ev.gen),
		"bundle_revision", revision,
	)
}

func genID(g *Generation) uint64 {
	if g == nil {
		return 0
	}
	return g.ID
}
