package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

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
	ev := &pipeline.Evaluation{RequestID: rid, Method: r.Method, Status: status, Reason: pipeline.Reason(reason), Request: r}
	if d.s.tracer != nil {
		ev.Request, ev.Span = d.s.serverSpan(r, "authorize")
		ev.FrontDoor = true
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
	ev.Span, ev.FrontDoor = span, span != nil
	r = ev.Request
	out := &frontdoor.Outcome{RequestID: rid, Reason: string(ev.Reason)}
	rec := &recorder{requestID: rid}
	defer func() {
		rec.status = out.Status
		s.finish(rec, gen, ev, start)
	}()
	if ev.Op != nil && !ev.Op.Public {
		s.metrics.AuthnSeconds.Observe(ev.AuthnTime.Seconds())
	}
	if ev.Decision != nil || ev.Reason == pipeline.ReasonPolicyError {
		s.metrics.PolicySeconds.Observe(ev.PolicyTime.Seconds())
	}
	if ev.Failure != nil {
		s.log.Error("request failed closed", "request_id", rid, "reason", ev.Reason, "error", ev.Failure.Error())
	}
	s.logShape(ev, rid)
	if ev.Preflight != nil {
		out.Status, out.Headers = http.StatusNoContent, ev.Preflight.Clone()
		return out
	}
	if ev.Status != 0 {
		s.deny(out, ev, ev.Status)
		return out
	}

	if err := gen.DecideUpstream(ev); err != nil {
		out.Reason = string(ev.Reason)
		s.log.Error("cannot sign identity assertion", "request_id", rid, "error", err.Error())
		s.deny(out, ev, http.StatusInternalServerError)
		return out
	}
	up := ev.Upstream
	set := make([]frontdoor.Header, 0, len(up.Set)+3)
	for _, h := range up.Set {
		set = append(set, frontdoor.Header{Name: h.Name, Value: h.Value})
	}
	remove := append(make([]string, 0, len(up.Remove)+8), up.Remove...)
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
	if up.Assertion != "" {
		set = append(set, frontdoor.Header{Name: up.AssertionHeader, Value: up.Assertion})
	}

	// Besides the consumed credentials (ev.Upstream, as the reverse proxy
	// removes them, proxy.go), the proxy must not forward any header the
	// core removed from the request (client-sent identity headers, method
	// overrides, a forwarded certificate).
	for _, k := range sent {
		if _, still := r.Header[k]; !still && !proxyOwnedHeaders[k] {
			remove = append(remove, k)
		}
	}
	if len(up.RemoveCookies) > 0 && len(r.Header["Cookie"]) > 0 {
		h := http.Header{"Cookie": r.Header["Cookie"]}
		stripCookies(h, up.RemoveCookies)
		out.Cookie = h.Get("Cookie")
		out.RemoveCookieHeader = out.Cookie == ""
	}
	out.AssertionHeader = up.AssertionHeader
	for _, h := range ev.Shape.ResponseHeaders {
		out.ResponseHeaders = append(out.ResponseHeaders, frontdoor.Header{Name: h.Name, Value: h.Value})
	}
	out.Allow, out.Status, out.Identities = true, http.StatusOK, up.Identities
	out.Set, out.Remove, out.RemoveQuery = set, dedupe(remove, set), up.RemoveQuery
	return out
}

// deny fills the answer the proxy would send for a refused request.
func (s *Server) deny(out *frontdoor.Outcome, ev *pipeline.Evaluation, status int) {
	h := http.Header{}
	// The policy's response headers first, the gateway's own over them
	// (as ServeHTTP does).
	ev.Shape.ApplyResponseHeaders(h)
	switch status {
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "5")
	case http.StatusTooManyRequests:
		h.Set("Retry-After", strconv.Itoa(ratelimit.RetrySeconds(ev.RetryAfter)))
	}
	title := ""
	if ev.Decision != nil && status == ev.Answer.Status {
		ev.Op.SetChallenges(h, ev.Decision, ev.Reason, ev.Answer)
		title = ev.Answer.Title
	}
	out.Status, out.Headers = status, h
	if ev.ShapedDenial(status) {
		out.Body = ev.Shape.Body
		pipeline.SetJSONHeaders(h, len(out.Body))
		return
	}
	out.Body = pipeline.ProblemBody(status, title, out.RequestID)
	pipeline.SetProblemHeaders(h, len(out.Body))
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
