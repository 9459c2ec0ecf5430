package gateway

import (
	"time"

	"github.com/gatehouse/gatehouse/bundles/decisionlog"
	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// finish records metrics, ends the request's span, and writes the
// rejection lines, the decision record and the one audit line of a
// request (gateway/audit).
func (s *Server) finish(rec *recorder, gen *Generation, ev *pipeline.Evaluation, start time.Time) {
	dur := time.Since(start)
	apiName, opID := "", ""
	if ev.Op != nil {
		apiName, opID = ev.Op.API.Name, ev.Op.ID
	}
	decision := audit.Decision(ev)
	s.metrics.Request(apiName, opID, decision, rec.status)
	if ev.Span != nil {
		endServerSpan(ev.Span, ev, decision, rec.status)
	}
	audit.LogRejections(s.rejectLog, ev, rec.requestID, apiName, opID)
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
				Input: in, Decision: ev.WholeDecision(), Cached: ev.CachedDecision, Err: err, Status: rec.status,
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
	a := audit.RecordOf(audit.Finished{RequestID: rec.requestID, Status: rec.status, Duration: dur,
		Generation: gen.ID, BundleRevision: gen.Engine.Revision()}, ev, apiName, opID, decision)
	if s.auditFast != nil {
		s.auditFast.Log(a)
		return
	}
	s.audit.Info("request", a.KeyValues()...)
}
