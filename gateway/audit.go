package gateway

import (
	"time"

	"github.com/gatehouse/gatehouse/bundles/decisionlog"
	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// finish records metrics and writes the one audit line of a request. The
// line holds scheme names, outcomes, reasons and credential ids (SHA-256
// prefixes) — never a credential.
func (s *Server) finish(rec *recorder, gen *Generation, ev *pipeline.Evaluation, start time.Time) {
	dur := time.Since(start)
	apiName, opID := "", ""
	if ev.Op != nil {
		apiName, opID = ev.Op.API.Name, ev.Op.ID
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
	s.metrics.Request(apiName, opID, decision, rec.status)
	if ev.Span != nil {
		endServerSpan(ev.Span, ev, decision, rec.status)
	}
	s.logRejections(rec, ev, apiName, opID)
	s.metrics.RequestSeconds.Observe(dur.Seconds())
	// A cached decision has no input yet: the record needs one, so it is
	// built here (only with decision logs on).
	if s.decisions != nil {
		if in := ev.Input(); in != nil {
			var err error
			if ev.Decision == nil {
				err = ev.Failure
			}
			r := decisionlog.Record{At: start, RequestID: rec.requestID, Engine: gen.Engine, Generation: gen.ID,
				Input: in, Decision: ev.Decision, Cached: ev.CachedDecision, Err: err, Status: rec.status,
				AuthnTime: ev.AuthnTime, PolicyTime: ev.PolicyTime}
			if ev.Span != nil {
				sc := ev.Span.SpanContext()
				r.TraceID, r.SpanID = sc.TraceID(), sc.SpanID()
			}
			s.decisions.Record(r)
		}
	}
	if s.audit == nil {
		return
	}
	a := auditRecordOf(rec, gen, ev, apiName, opID, decision, dur)
	if s.auditFast != nil {
		s.auditFast.Log(a)
		return
	}
	s.audit.Info("request", a.KeyValues()...)
}

// auditRecordOf gathers the fields of the fast audit line.
func auditRecordOf(rec *recorder, gen *Generation, ev *pipeline.Evaluation, apiName, opID, decision string, dur time.Duration) *audit.Record {
	n := len(ev.Outcomes)
	r := &audit.Record{
		RequestID:      rec.requestID,
		Method:         ev.Method,
		API:            apiName,
		Operation:      opID,
		Schemes:        make([]string, 0, n),
		Outcomes:       make([]string, 0, n),
		CredentialIDs:  make([]string, 0, ev.Outcomes.Verified()),
		Decision:       decision,
		Status:         rec.status,
		DurationMS:     float64(dur.Microseconds()) / 1000,
		Generation:     gen.ID,
		BundleRevision: gen.Engine.Revision(),
	}
	// Verified credentials first, then rejections, each in scheme order.
	for _, o := range ev.Outcomes {
		if o.Identity != nil {
			r.Schemes = append(r.Schemes, o.Scheme)
			r.Outcomes = append(r.Outcomes, "verified")
			r.CredentialIDs = append(r.CredentialIDs, o.Identity.CredentialID)
		}
	}
	for _, o := range ev.Outcomes {
		if o.Rejection != nil {
			r.Schemes = append(r.Schemes, o.Scheme)
			r.Outcomes = append(r.Outcomes, string(o.Rejection.Reason))
		}
	}
	r.Reasons = auditReasons(ev)
	if ev.Span != nil {
		sc := ev.Span.SpanContext()
		r.TraceID, r.SpanID = sc.TraceID(), sc.SpanID()
	}
	return r
}

// auditReasons are the policy's reasons, or the gateway's own reason when
// the policy did not decide.
func auditReasons(ev *pipeline.Evaluation) []string {
	if ev.Decision != nil {
		return ev.Decision.Reasons
	} else if ev.Reason != "" {
		return []string{string(ev.Reason)}
	}
	return nil
}
