package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/gateway/frontdoor"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
	"github.com/gatehouse/gatehouse/gateway/ratelimit"
	"github.com/gatehouse/gatehouse/internal/spans"
)

// The front doors (gateway/extauthz, gateway/forwardauth) reach the decision
// core through frontdoor.Decider. Decide runs exactly what ServeHTTP runs
// before it forwards — Evaluate, the same challenges, problem bodies,
// assertion and upstream headers — and turns the result into an Outcome
// instead of a proxied request, with the same audit line and metrics.

// Decider returns the server as a frontdoor.Decider.
func (s *Server) Decider() frontdoor.Decider { return decider{s} }

type decider struct{ s *Server }

func (d decider) Decide(r *http.Request) *frontdoor.Outcome { return d.s.decide(r) }

func (d decider) Refuse(r *http.Request, status int, reason string) *frontdoor.Outcome {
	start := time.Now()
	gen := d.s.gen.Load()
	rid := requestID(r)
	ev := &Evaluation{RequestID: rid, Method: r.Method, Status: status, Reason: pipeline.Reason(reason), Request: r}
	if d.s.tracer != nil {
		ev.Request, ev.span = d.s.serverSpan(r, "authorize")
		ev.frontDoor = true
	}
	if r.URL != nil {
		ev.Path = r.URL.Path
	}
	out := &frontdoor.Outcome{RequestID: rid, Reason: reason}
	d.s.deny(out, ev, status)
	d.s.finish(&recorder{requestID: rid, status: status}, gen, ev, start)
	return out
}

// proxyOwnedHeaders are set by the proxy in front, which keeps them right
// itself; the core removes every client-sent X-Forwarded-*, but a front door
// must not ask its proxy to drop the proxy's own.
var proxyOwnedHeaders = map[string]bool{"X-Forwarded-For": true, "X-Forwarded-Proto": true, "X-Forwarded-Host": true}

func (s *Server) decide(r *http.Request) *frontdoor.Outcome {
	start := time.Now()
	gen, held := s.acquire()
	defer release(gen, held) // deferred first: runs after finish
	rid := requestID(r)
	sent := make([]string, 0, len(r.Header))
	for k := range r.Header {
		sent = append(sent, k)
	}
	var span trace.Span
	if s.tracer != nil {
		r, span = s.serverSpan(r, "authorize")
	}
	ev := gen.Evaluate(r, rid, start)
	ev.span, ev.frontDoor = span, span != nil
	r = ev.Request
	out := &frontdoor.Outcome{RequestID: rid, Reason: string(ev.Reason)}
	rec := &recorder{requestID: rid}
	defer func() {
		rec.status = out.Status
		s.finish(rec, gen, ev, start)
	}()
	if ev.Op != nil && !ev.Op.Public {
		s.metrics.authnSeconds.Observe(ev.AuthnTime.Seconds())
	}
	if ev.Decision != nil || ev.Reason == pipeline.ReasonPolicyError {
		s.metrics.policySeconds.Observe(ev.PolicyTime.Seconds())
	}
	if ev.Failure != nil {
		s.log.Error("request failed closed", "request_id", rid, "reason", ev.Reason, "error", ev.Failure.Error())
	}
	if ev.Preflight != nil {
		out.Status, out.Headers = http.StatusNoContent, ev.Preflight.Clone()
		return out
	}
	if ev.Status != 0 {
		s.deny(out, ev, ev.Status)
		return out
	}

	op, d := ev.Op, ev.Decision
	var satisfied []*authn.Identity
	if !op.Public {
		satisfied = satisfiedIdentities(d, ev.Outcomes)
	}
	set := make([]frontdoor.Header, 0, 4+len(d.Headers))
	for k, v := range d.Headers {
		if safeExtraHeader(k, gen.Config.UpstreamIdentity.Header) {
			set = append(set, frontdoor.Header{Name: http.CanonicalHeaderKey(k), Value: v})
		}
	}
	remove := make([]string, 0, 8)
	if h := gen.Config.MTLS.UpstreamHeader; h != "" {
		if x := upstreamXFCC(satisfied); x != "" && !op.Public {
			set = append(set, frontdoor.Header{Name: http.CanonicalHeaderKey(h), Value: x})
		} else {
			remove = append(remove, http.CanonicalHeaderKey(h))
		}
	}
	set = append(set, frontdoor.Header{Name: "X-Request-Id", Value: rid})
	if span != nil {
		// The proxied request continues the trace as a child of this
		// decision: the proxy copies traceparent to the upstream request
		// like the assertion (a proxy that traces itself, as Envoy does,
		// writes its own over it). tracestate is the trace's: the client's
		// when its traceparent was continued, none otherwise.
		if tp, ts, ok := spans.Headers(span.SpanContext()); ok {
			set = append(set, frontdoor.Header{Name: spans.Traceparent, Value: tp})
			if ts != "" {
				set = append(set, frontdoor.Header{Name: spans.Tracestate, Value: ts})
			} else {
				remove = append(remove, spans.Tracestate)
			}
		}
	}
	if gen.asserter != nil && !op.Public {
		tok, err := gen.asserter.Assertion(gen.assertions, &op.assert, satisfied)
		if err != nil {
			ev.refuse(pipeline.ReasonAssertionFailed)
			out.Reason = string(ev.Reason)
			s.log.Error("cannot sign identity assertion", "request_id", rid, "error", err.Error())
			s.deny(out, ev, http.StatusInternalServerError)
			return out
		}
		set = append(set, frontdoor.Header{Name: http.CanonicalHeaderKey(gen.Config.UpstreamIdentity.Header), Value: tok})
	}

	// What the proxy must not forward: the consumed credentials (as the
	// reverse proxy's Rewrite removes them, proxy.go) and every header the
	// core removed from the request (client-sent identity headers, method
	// overrides, a forwarded certificate).
	remove = append(remove, "Proxy-Authorization")
	if op.readsAuthorization {
		remove = append(remove, "Authorization")
	}
	if _, ok := op.secretHeaders[dpopHeader]; ok {
		remove = append(remove, dpopHeader)
	}
	remove = append(remove, op.apiKeyHeaders...)
	for _, k := range sent {
		if _, still := r.Header[k]; !still && !proxyOwnedHeaders[k] {
			remove = append(remove, k)
		}
	}
	if len(op.stripCookies) > 0 && len(r.Header["Cookie"]) > 0 {
		h := http.Header{"Cookie": r.Header["Cookie"]}
		stripCookies(h, op.stripCookies)
		out.Cookie = h.Get("Cookie")
		out.RemoveCookieHeader = out.Cookie == ""
	}
	if gen.asserter != nil {
		out.AssertionHeader = http.CanonicalHeaderKey(gen.Config.UpstreamIdentity.Header)
	}
	out.Allow, out.Status, out.Identities = true, http.StatusOK, satisfied
	out.Set, out.Remove, out.RemoveQuery = set, dedupe(remove, set), op.stripQuery
	return out
}

// deny fills the answer the proxy would send for a refused request.
func (s *Server) deny(out *frontdoor.Outcome, ev *Evaluation, status int) {
	h := http.Header{}
	switch status {
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "5")
	case http.StatusTooManyRequests:
		h.Set("Retry-After", strconv.Itoa(ratelimit.RetrySeconds(ev.RetryAfter)))
	}
	title := ""
	if ev.Decision != nil && status == ev.answer.Status {
		setChallenges(h, ev.Op, ev.Decision, ev.Reason, ev.answer)
		title = ev.answer.Title
	}
	out.Status, out.Headers = status, h
	out.Body = problemBody(status, title, out.RequestID)
	setProblemHeaders(h, len(out.Body))
}

// dedupe drops repeated names, and names that are set (a proxy may apply
// removals after additions: the assertion must survive a client's copy).
func dedupe(names []string, set []frontdoor.Header) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		dup := false
		for _, h := range set {
			if strings.EqualFold(n, h.Name) {
				dup = true
			}
		}
		for _, m := range out {
			if strings.EqualFold(n, m) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, n)
		}
	}
	return out
}
