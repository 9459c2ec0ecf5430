package gateway

import "github.com/gatehouse/gatehouse/gateway/pipeline"

// logRejections writes one line per presented-but-invalid credential with
// the authenticator's detail: why it was refused in operators' terms (for
// an unknown issuer, the token's iss and the scheme's trusted issuers).
// The detail never holds the credential (authn.Rejection's contract). The
// audit line carries only the closed reason set, for metrics and alerts.
func (s *Server) logRejections(rec *recorder, ev *pipeline.Evaluation, apiName, opID string) {
	if ev.Outcomes.Rejected() == 0 || s.rejectLog == nil || !s.rejectLog.IsInfo() {
		return
	}
	for _, o := range ev.Outcomes {
		rej := o.Rejection
		if rej == nil {
			continue
		}
		s.rejectLog.Info("credential rejected",
			"request_id", rec.requestID,
			"api", apiName,
			"operation", opID,
			"scheme", o.Scheme,
			"reason", string(rej.Reason),
			"detail", rej.Detail,
		)
	}
}
