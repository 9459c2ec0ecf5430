package pipeline

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/bundles"
)

func TestPickDenial(t *testing.T) {
	cases := []struct {
		name       string
		reasons    []string
		status     int // the decision's own status
		wantReason Reason
		wantStatus int
		challenge  bool
	}{
		{"ok/lowest-rank-wins", []string{"credentials_missing", "insufficient_scope"}, 0, ReasonInsufficientScope, http.StatusForbidden, true},
		{"ok/policy-error-outranks-all", []string{"credentials_invalid", "policy_error"}, 0, ReasonPolicyError, http.StatusInternalServerError, false},
		{"ok/no-reasons", nil, 0, ReasonDenied, http.StatusForbidden, false},
		{"ok/custom-reason", []string{"office_hours"}, 0, "office_hours", http.StatusForbidden, false},
		{"ok/custom-reason-with-status", []string{"office_hours"}, http.StatusTooManyRequests, "office_hours", http.StatusTooManyRequests, false},
		{"ok/known-reason-ignores-status", []string{"revoked"}, http.StatusTeapot, ReasonRevoked, http.StatusUnauthorized, true},
		{"ok/path-reason-from-policy-is-custom", []string{"no_route"}, 0, ReasonNoRoute, http.StatusForbidden, false},
		{"ok/known-beats-custom", []string{"office_hours", "subscription_required"}, 0, ReasonSubscriptionRequired, http.StatusForbidden, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, a := PickDenial(&bundles.Decision{Reasons: tc.reasons, Status: tc.status})
			if r != tc.wantReason || a.Status != tc.wantStatus || a.Challenge != tc.challenge {
				t.Fatalf("PickDenial(%v, %d) = %q %+v, want %q %d challenge=%v", tc.reasons, tc.status, r, a, tc.wantReason, tc.wantStatus, tc.challenge)
			}
			if a.Title != http.StatusText(a.Status) {
				t.Fatalf("title %q for status %d", a.Title, a.Status)
			}
		})
	}
}

// Every reason of the request path answers with its own status, never the
// unknown-reason 403 by accident.
func TestAnswerOfRequestPathReasons(t *testing.T) {
	cases := map[Reason]int{
		ReasonPathTraversal: http.StatusBadRequest, ReasonBadPath: http.StatusBadRequest,
		ReasonCORSPreflight: http.StatusNoContent, ReasonCORSRejected: http.StatusForbidden,
		ReasonNoRoute: http.StatusNotFound, ReasonMethodNotAllowed: http.StatusMethodNotAllowed,
		ReasonMisdirected: http.StatusMisdirectedRequest, ReasonRateLimited: http.StatusTooManyRequests,
		ReasonBodyTooLarge: http.StatusRequestEntityTooLarge, ReasonTokenTooLarge: http.StatusRequestHeaderFieldsTooLarge,
		ReasonAuthnUnavailable: http.StatusServiceUnavailable, ReasonPolicyError: http.StatusInternalServerError,
		ReasonAssertionFailed: http.StatusInternalServerError,
	}
	for r, want := range cases {
		t.Run(string(r), func(t *testing.T) {
			if got := AnswerOf(r).Status; got != want {
				t.Fatalf("AnswerOf(%q).Status = %d, want %d", r, got, want)
			}
		})
	}
}
