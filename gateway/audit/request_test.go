package audit

import (
	"errors"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// The audit line names the decision, lists verified credentials before
// rejections (each in scheme order), and gives the gateway's own reason
// when the policy did not decide.
func TestRecordOf(t *testing.T) {
	outs := pipeline.Outcomes{
		{Scheme: "basic", Rejection: &authn.Rejection{Reason: authn.ReasonInvalidCredentials}},
		{Scheme: "oauth", Identity: &authn.Identity{CredentialID: "c1"}},
	}
	cases := []struct {
		name     string
		ev       pipeline.Evaluation
		decision string
		reasons  []string
	}{
		{"none/no route", pipeline.Evaluation{Reason: "no_route", Status: 404}, "none", []string{"no_route"}},
		{"error/policy failed", pipeline.Evaluation{Failure: errors.New("boom"), Reason: "policy_error", Status: 500}, "error", []string{"policy_error"}},
		{"allow", pipeline.Evaluation{Decision: &bundles.Decision{Allow: true}, Outcomes: outs}, "allow", nil},
		{"deny/policy reasons", pipeline.Evaluation{Decision: &bundles.Decision{Reasons: []string{"scope_missing"}}, Status: 403, Outcomes: outs}, "deny", []string{"scope_missing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Decision(&c.ev)
			if d != c.decision {
				t.Fatalf("decision %q, want %q", d, c.decision)
			}
			r := RecordOf(Finished{RequestID: "r1", Status: c.ev.Status}, &c.ev, "shop", "list", d)
			if !slices.Equal(r.Reasons, c.reasons) {
				t.Fatalf("reasons %q, want %q", r.Reasons, c.reasons)
			}
			if len(c.ev.Outcomes) > 0 {
				if want := []string{"oauth", "basic"}; !slices.Equal(r.Schemes, want) {
					t.Fatalf("schemes %q, want %q", r.Schemes, want)
				}
				if want := []string{"verified", "invalid_credentials"}; !slices.Equal(r.Outcomes, want) || !slices.Equal(r.CredentialIDs, []string{"c1"}) {
					t.Fatalf("outcomes %q, credential ids %q", r.Outcomes, r.CredentialIDs)
				}
			}
		})
	}
}
