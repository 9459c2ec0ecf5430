package pipeline_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

func TestShapeOf(t *testing.T) {
	body := []byte(`{"error":"over"}`)
	cases := []struct {
		name    string
		d       *bundles.Decision
		reason  pipeline.Reason
		headers []pipeline.Header
		remove  []string
		body    []byte
		refused []string // substrings, in order
	}{
		{name: "ok/nothing", d: &bundles.Decision{Allow: true}},
		{name: "ok/allow_headers_and_removal", d: &bundles.Decision{Allow: true,
			ResponseHeaders: map[string]string{"x-plan": "gold", "retry-after": "3"}, RemoveHeaders: []string{"x-debug"}},
			headers: []pipeline.Header{{"Retry-After", "3"}, {"X-Plan", "gold"}}, remove: []string{"X-Debug"}},
		{name: "ok/custom_denial_body", d: &bundles.Decision{Reasons: []string{"over"}, Status: 422, Body: body},
			reason: "over", body: body},
		{name: "ok/no_body_when_an_authentication_reason_governs", d: &bundles.Decision{Reasons: []string{"credentials_missing", "over"}, Body: body,
			ResponseHeaders: map[string]string{"x-help": "h"}}, reason: pipeline.ReasonCredentialsMissing, headers: []pipeline.Header{{"X-Help", "h"}}},
		{name: "ok/no_removal_on_a_denial", d: &bundles.Decision{Reasons: []string{"over"}, RemoveHeaders: []string{"x-debug"}}, reason: "over"},
		{name: "fail/owned_response_headers", d: &bundles.Decision{Allow: true, ResponseHeaders: map[string]string{
			"set-cookie": "s=1", "authorization": "x", "connection": "close", "transfer-encoding": "chunked", "content-type": "text/html",
			"www-authenticate": "Basic", "x-request-id": "r", "access-control-allow-origin": "*", "x-user-id": "admin", "x-jwt-assertion": "a", "x-ok": "1"}},
			headers: []pipeline.Header{{"X-Ok", "1"}},
			refused: []string{"Access-Control-Allow-Origin", "Authorization", "Connection", "Content-Type", "Set-Cookie", "Transfer-Encoding", "Www-Authenticate", "X-Jwt-Assertion", "X-Request-Id", "X-User-Id"}},
		{name: "fail/bad_names_and_values", d: &bundles.Decision{Allow: true, ResponseHeaders: map[string]string{"bad name": "1", "x-crlf": "a\r\nSet-Cookie: s=1", "x-long": strings.Repeat("v", 5000)}},
			refused: []string{`"bad name"`, "X-Crlf", "X-Long"}},
		{name: "fail/owned_request_headers", d: &bundles.Decision{Allow: true, RemoveHeaders: []string{"host", "content-length", "x-request-id", "x-forwarded-for", "x-jwt-assertion", "x-client-cert", "x-fine"}},
			remove: []string{"X-Fine"}, refused: []string{"Host", "Content-Length", "X-Request-Id", "X-Forwarded-For", "X-Jwt-Assertion", "X-Client-Cert"}},
		{name: "fail/status_outside_the_set", d: &bundles.Decision{Reasons: []string{"teapot"}, Status: 418}, reason: "teapot", refused: []string{"status 418"}},
		{name: "fail/body_refused", d: &bundles.Decision{Reasons: []string{"over"}, BodyRefused: "body is 20000 bytes encoded, over 16384"}, reason: "over", refused: []string{"20000 bytes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := pipeline.ShapeOf(c.d, c.reason, "X-JWT-Assertion", "X-Client-Cert")
			if !reflect.DeepEqual(s.ResponseHeaders, c.headers) || !reflect.DeepEqual(s.RemoveHeaders, c.remove) || string(s.Body) != string(c.body) {
				t.Fatalf("shape %+v\nwant headers %v remove %v body %s", s, c.headers, c.remove, c.body)
			}
			if len(s.Refused) != len(c.refused) {
				t.Fatalf("refused %q, want %d: %q", s.Refused, len(c.refused), c.refused)
			}
			for i, want := range c.refused {
				if !strings.Contains(s.Refused[i], want) {
					t.Errorf("refused[%d] %q, want %q in it", i, s.Refused[i], want)
				}
			}
			h := http.Header{}
			s.ApplyResponseHeaders(h)
			if len(h) != len(c.headers) {
				t.Errorf("applied %v", h)
			}
		})
	}
}

// A custom status outside pipeline.CustomStatuses answers 403.
func TestPickDenialCustomStatus(t *testing.T) {
	cases := []struct {
		name   string
		status int
		want   int
	}{
		{"ok/422", 422, 422}, {"ok/503", 503, 503}, {"ok/451", 451, 451}, {"ok/none", 0, 403},
		{"fail/401", 401, 403}, {"fail/418", 418, 403}, {"fail/500", 500, 403}, {"fail/502", 502, 403}, {"fail/421", 421, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, a := pipeline.PickDenial(&bundles.Decision{Reasons: []string{"custom_reason"}, Status: c.status})
			if a.Status != c.want {
				t.Fatalf("status %d, want %d", a.Status, c.want)
			}
		})
	}
}
