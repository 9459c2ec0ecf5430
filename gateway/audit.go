package gateway

import (
	"time"

	"github.com/gatehouse/gatehouse/bundles/decisionlog"
)

// finish records metrics and writes the one audit line of a request. The
// line holds scheme names, outcomes, reasons and credential ids (SHA-256
// prefixes) — never a credential.
func (s *Server) finish(rec *recorder, gen *Generation, ev *Evaluation, start time.Time) {
	dur := time.Since(start)
	apiName, opID := "", ""
	if ev.Op != nil {
		apiName, opID = ev.Op.api.Name, ev.Op.ID
	}
	decision := "none"
	switch {
	case ev.Failure != nil:
		decision = "error"
	case ev.Decision != nil && ev.Status == 0:
		decision = "allow"
	case ev.Decision != nil:
		decision = "deny"
	}
	s.metrics.request(apiName, opID, decision, rec.status)
	s.logRejections(rec, ev, apiName, opID)
	s.metrics.requestSeconds.Observe(dur.Seconds())
	// A cached decision has no input yet: the record needs one, so it is
	// built here (only with decision logs on).
	if s.decisions != nil {
		if in := ev.Input(); in != nil {
			var err error
			if ev.Decision == nil {
				err = ev.Failure
			}
			s.decisions.Record(decisionlog.Record{At: start, RequestID: rec.requestID, Engine: gen.Engine, Generation: gen.ID,
				Input: in, Decision: ev.Decision, Cached: ev.CachedDecision, Err: err, Status: rec.status})
		}
	}
	if s.audit == nil {
		return
	}
	a := auditRecordOf(rec, gen, ev, apiName, opID, decision, dur)
	if s.auditFast != nil {
		s.auditFast.log(a)
		return
	}
	s.audit.Info("request",
		"request_id", a.requestID,
		"method", a.method,
		"api", a.api,
		"operation", a.operation,
		"schemes", a.schemes,
		"outcomes", a.outcomes,
		"credential_ids", a.credentialIDs,
		"decision", a.decision,
		"reasons", a.reasons,
		"status", a.status,
		"duration_ms", a.durationMS,
		"generation", a.generation,
		"bundle_revision", a.bundleRevision,
	)
}

// auditRecordOf gathers the fields of the fast audit line.
func auditRecordOf(rec *recorder, gen *Generation, ev *Evaluation, apiName, opID, decision string, dur time.Duration) *auditRecord {
	n := len(ev.Outcomes)
	r := &auditRecord{
		requestID:      rec.requestID,
		method:         ev.Method,
		api:            apiName,
		operation:      opID,
		schemes:        make([]string, 0, n),
		outcomes:       make([]string, 0, n),
		credentialIDs:  make([]string, 0, ev.Outcomes.Verified()),
		decision:       decision,
		status:         rec.status,
		durationMS:     float64(dur.Microseconds()) / 1000,
		generation:     gen.ID,
		bundleRevision: gen.Engine.Revision(),
	}
	// Verified credentials first, then rejections, each in scheme order.
	for _, o := range ev.Outcomes {
		if o.Identity != nil {
			r.schemes = append(r.schemes, o.Scheme)
			r.outcomes = append(r.outcomes, "verified")
			r.credentialIDs = append(r.credentialIDs, o.Identity.CredentialID)
		}
	}
	for _, o := range ev.Outcomes {
		if o.Rejection != nil {
			r.schemes = append(r.schemes, o.Scheme)
			r.outcomes = append(r.outcomes, string(o.Rejection.Reason))
		}
	}
	if ev.Decision != nil {
		r.reasons = ev.Decision.Reasons
	} else if ev.Reason != "" {
		r.reasons = []string{string(ev.Reason)}
	}
	return r
}
