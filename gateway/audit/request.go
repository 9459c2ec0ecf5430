package audit

import (
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// Finished is what the gateway knows of a finished request beyond the
// decision core's evaluation: its id and status, how long it took, and
// the generation that served it.
type Finished struct {
	RequestID      string
	Status         int
	Duration       time.Duration
	Generation     uint64
	BundleRevision string
}

// Decision names the outcome of an evaluation for the audit line, the
// metrics and the span: allow, deny, error (the policy failed) or none
// (the policy was not asked).
func Decision(ev *pipeline.Evaluation) string {
	switch {
	case ev.Failure != nil:
		return "error"
	case ev.Decision != nil && ev.Status == 0:
		return "allow"
	case ev.Decision != nil:
		return "deny"
	}
	return "none"
}

// RecordOf gathers the fields of the audit line: scheme names, outcomes,
// reasons and credential ids (SHA-256 prefixes) — never a credential.
func RecordOf(f Finished, ev *pipeline.Evaluation, apiName, opID, decision string) *Record {
	n := len(ev.Outcomes)
	r := &Record{
		RequestID:      f.RequestID,
		Method:         ev.Method,
		API:            apiName,
		Operation:      opID,
		Schemes:        make([]string, 0, n),
		Outcomes:       make([]string, 0, n),
		CredentialIDs:  make([]string, 0, ev.Outcomes.Verified()),
		Decision:       decision,
		Status:         f.Status,
		DurationMS:     float64(f.Duration.Microseconds()) / 1000,
		Generation:     f.Generation,
		BundleRevision: f.BundleRevision,
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
	r.Reasons = Reasons(ev)
	if ev.Span != nil {
		sc := ev.Span.SpanContext()
		r.TraceID, r.SpanID = sc.TraceID(), sc.SpanID()
	}
	return r
}

// Reasons are the policy's reasons, or the gateway's own reason when the
// policy did not decide.
func Reasons(ev *pipeline.Evaluation) []string {
	if ev.Decision != nil {
		return ev.Decision.Reasons
	} else if ev.Reason != "" {
		return []string{string(ev.Reason)}
	}
	return nil
}

// LogRejections writes one line per presented-but-invalid credential with
// the authenticator's detail: why it was refused in operators' terms (for
// an unknown issuer, the token's iss and the scheme's trusted issuers).
// The detail never holds the credential (authn.Rejection's contract). The
// audit line carries only the closed reason set, for metrics and alerts.
func LogRejections(log hclog.Logger, ev *pipeline.Evaluation, requestID, apiName, opID string) {
	if ev.Outcomes.Rejected() == 0 || log == nil || !log.IsInfo() {
		return
	}
	for _, o := range ev.Outcomes {
		rej := o.Rejection
		if rej == nil {
			continue
		}
		log.Info("credential rejected",
			"request_id", requestID,
			"api", apiName,
			"operation", opID,
			"scheme", o.Scheme,
			"reason", string(rej.Reason),
			"detail", rej.Detail,
		)
	}
}
