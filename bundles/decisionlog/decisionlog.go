// Package decisionlog writes one decision record per request in OPA's
// decision-log format (logs.EventV1) to the process log, a JSON-lines file,
// or an OPA decision-log service (OPA's upload protocol, unchanged), after
// masking credential headers and applying the bundles' data.system.log
// mask and drop policies. Requests only hand a record to a bounded queue;
// all the work runs on one writer goroutine.
package decisionlog

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/plugins/logs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/config"

	"github.com/gatehouse/gatehouse/bundles"
)

// decisionPath is the decision's path in OPA's decision-log format.
const decisionPath = "gatehouse/authz/decision"

// Logger writes one record per policy decision in OPA's decision-log
// format (logs.EventV1: decision id, bundle revisions, path, input, result,
// timestamp). The request only hands a small record to a bounded queue —
// never waiting: when the queue is full the record is dropped and counted
// (gatehouse_decision_logs_dropped_total). Everything else — converting the
// input and result to JSON, masking, the mask/drop policies, writing — runs
// on the writer goroutine.
type Logger struct {
	log    hclog.Logger
	ch     chan Record
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once
	mask   headerMask
	sinks  []decisionSink
	labels map[string]string
	// metrics: policy.decision_logs.metrics.
	metrics bool

	dropped  *prometheus.CounterVec
	written  prometheus.Counter
	failures prometheus.Counter
}

// Record is what the request path hands over: pointers to values that
// already exist (the generation's engine, the input, the decision) and
// scalars.
type Record struct {
	At         time.Time
	RequestID  string
	Engine     *bundles.Engine
	Generation uint64
	Input      ast.Value
	Decision   *bundles.Decision
	Cached     bool // the decision came from the generation's decision cache
	Err        error
	Status     int
	// AuthnTime and PolicyTime are the request's time in authentication
	// and in the policy evaluation (zero for a cached decision), for the
	// record's metrics member (policy.decision_logs.metrics).
	AuthnTime, PolicyTime time.Duration
	// TraceID and SpanID are the request's trace and its server span with
	// tracing on (all zero otherwise): OPA's trace_id and span_id members.
	TraceID [16]byte
	SpanID  [8]byte
}

// decisionSink is one destination of decision records.
type decisionSink interface {
	write(ctx context.Context, ev *logs.EventV1) error
	// flush is called when the queue is empty for now.
	flush() error
	close(ctx context.Context) error
}

// Options is what New needs besides policy.decision_logs itself.
type Options struct {
	// File is the config file (for errors); Dir resolves relative paths.
	File, Dir string
	// IdentityHeader is the upstream identity assertion's header, masked too.
	IdentityHeader string
	// Services are policy.remote.services, for the upload sink.
	Services map[string]json.RawMessage
	// InstanceID is labels.id of every record: which process decided.
	InstanceID string
	// Version is labels.version: the Gatehouse build; labels.opa_version
	// is the embedded OPA's.
	Version, OPAVersion string
	Log                 hclog.Logger
	Metrics             prometheus.Registerer
}

// New starts the writer of policy.decision_logs.
func New(dc *Config, o Options) (*Logger, error) {
	log := o.Log
	d := &Logger{
		log:     log.Named("decision_logs"),
		ch:      make(chan Record, dc.BufferSize),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		metrics: dc.Metrics,
		mask:    newHeaderMask(dc.MaskHeaders, o.IdentityHeader),
		labels:  labels(o),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_decision_logs_dropped_total",
			Help: "Decision records not written, by reason: queue_full (the writer fell behind; requests never wait) or policy (data.system.log.drop).",
		}, []string{"reason"}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_decision_logs_written_total",
			Help: "Decision records handed to the sinks.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_decision_log_errors_total",
			Help: "Decision records a sink failed to write, or mask policies that failed (the record is then not written).",
		}),
	}
	for _, c := range []prometheus.Collector{d.dropped, d.written, d.failures} {
		if err := o.Metrics.Register(c); err != nil {
			return nil, err
		}
	}
	if dc.Console {
		d.sinks = append(d.sinks, &consoleSink{log: log.Named("decisions")})
	}
	if dc.File != "" {
		s, err := newFileSink(config.ResolvePath(o.Dir, dc.File))
		if err != nil {
			return nil, config.Errors{{File: o.File, Pointer: "/policy/decision_logs/file", Msg: err.Error()}}
		}
		d.sinks = append(d.sinks, s)
	}
	if dc.Service != "" {
		s, err := newUploadSink(dc, o, d.labels)
		if err != nil {
			d.closeSinks(context.Background())
			return nil, err
		}
		d.sinks = append(d.sinks, s)
	}
	go d.run()
	return d, nil
}

// Record queues one decision; it never blocks.
func (d *Logger) Record(r Record) {
	select {
	case d.ch <- r:
	default:
		d.dropped.WithLabelValues("queue_full").Inc()
	}
}

func (d *Logger) run() {
	defer close(d.done)
	ctx := context.Background()
	for {
		select {
		case r := <-d.ch:
			d.process(ctx, r)
			// Drain what queued meanwhile (at most a queue's worth), then
			// flush once.
			for n := 0; n < cap(d.ch) && d.processQueued(ctx); n++ {
			}
			d.flush()
		case <-d.quit:
			for d.processQueued(ctx) {
			}
			d.flush()
			return
		}
	}
}

// processQueued processes one queued record without waiting; false when
// the queue is empty.
func (d *Logger) processQueued(ctx context.Context) bool {
	select {
	case r := <-d.ch:
		d.process(ctx, r)
		return true
	default:
		return false
	}
}

func (d *Logger) flush() {
	for _, s := range d.sinks {
		if err := s.flush(); err != nil {
			d.failures.Inc()
			d.log.Error("decision log flush failed", "error", err.Error())
		}
	}
}

// Close writes what is queued and stops the sinks (the upload sink flushes
// its buffer to the service until ctx ends).
func (d *Logger) Close(ctx context.Context) {
	d.once.Do(func() {
		close(d.quit)
		select {
		case <-d.done:
		case <-ctx.Done():
		}
		d.closeSinks(ctx)
	})
}

func (d *Logger) closeSinks(ctx context.Context) {
	for _, s := range d.sinks {
		if err := s.close(ctx); err != nil {
			d.log.Error("decision log sink close failed", "error", err.Error())
		}
	}
}

// process turns a record into an OPA decision-log event, masks it, and
// hands it to every sink.
func (d *Logger) process(ctx context.Context, r Record) {
	in, err := ast.JSON(r.Input)
	if err != nil {
		d.failures.Inc()
		return
	}
	var erased []string
	if m, ok := in.(map[string]any); ok {
		erased = d.mask.erase(m)
	}
	eng := r.Engine
	revisions := eng.Revisions()
	bundleInfo := make(map[string]logs.BundleInfoV1, len(revisions))
	for name, rev := range revisions {
		bundleInfo[name] = logs.BundleInfoV1{Revision: rev}
	}
	ev := &logs.EventV1{
		Labels:     d.labels,
		DecisionID: uuid.NewString(),
		Bundles:    bundleInfo,
		Path:       decisionPath,
		Input:      &in,
		Erased:     erased,
		Timestamp:  r.At.UTC(),
		Custom: map[string]any{
			"request_id": r.RequestID,
			"status":     r.Status,
			"generation": r.Generation,
		},
	}
	if ip := clientIPOf(in); ip != "" {
		ev.RequestedBy = ip
	}
	if r.TraceID != [16]byte{} {
		ev.TraceID, ev.SpanID = hex.EncodeToString(r.TraceID[:]), hex.EncodeToString(r.SpanID[:])
	}
	if r.Decision != nil {
		res, err := r.Decision.JSON()
		if err == nil {
			ev.Result = &res
		}
	}
	if r.Err != nil {
		ev.Custom["error"] = r.Err.Error()
	}
	if r.Cached {
		ev.Custom["cached"] = true
	}
	if err := maskBody(ctx, eng, ev); err != nil {
		// The body was erased whole; an unmask policy that fails could
		// mean a record unlike the one the bundle asked for: not written.
		d.failures.Inc()
		d.log.Error("decision log unmask policy failed; record not written", "request_id", r.RequestID, "error", err.Error())
		return
	}
	drop, err := applyLogPolicies(ctx, eng, ev)
	if err != nil {
		// A mask policy that fails could leave something unmasked: the
		// record is not written.
		d.failures.Inc()
		d.log.Error("decision log mask policy failed; record not written", "request_id", r.RequestID, "error", err.Error())
		return
	}
	if drop {
		d.dropped.WithLabelValues("policy").Inc()
		return
	}
	uniformShape(ev)
	if d.metrics {
		ev.Metrics = map[string]any{"timer_gatehouse_authn_ns": r.AuthnTime.Nanoseconds()}
		if !r.Cached {
			ev.Metrics["timer_rego_query_eval_ns"] = r.PolicyTime.Nanoseconds()
		}
	}
	for _, s := range d.sinks {
		if err := s.write(ctx, ev); err != nil {
			d.failures.Inc()
			d.log.Error("decision log write failed", "error", err.Error())
		}
	}
	d.written.Inc()
}

// labels are every record's labels: the process that decided (id), the
// Gatehouse build (version) and the embedded OPA (opa_version), so a
// collector receiving from a fleet tells replicas and builds apart.
func labels(o Options) map[string]string {
	l := map[string]string{"app": "gatehouse", "id": o.InstanceID, "version": o.Version, "opa_version": o.OPAVersion}
	if l["id"] == "" {
		l["id"] = uuid.NewString()
	}
	for k, v := range l {
		if v == "" {
			delete(l, k)
		}
	}
	return l
}

// uniformShape moves erased and masked into custom, where OPA's upload
// protocol carries them (its plugin takes no erased/masked of its own), so
// a record has the same shape in every sink.
func uniformShape(ev *logs.EventV1) {
	if len(ev.Erased) > 0 {
		ev.Custom["erased"] = ev.Erased
		ev.Erased = nil
	}
	if len(ev.Masked) > 0 {
		ev.Custom["masked"] = ev.Masked
		ev.Masked = nil
	}
}

func clientIPOf(in any) string {
	m, _ := in.(map[string]any)
	req, _ := m["request"].(map[string]any)
	ip, _ := req["client_ip"].(string)
	return ip
}

// headerMask erases request headers that can carry credentials from the
// logged input. The pipeline already keeps the headers of the operation's
// own schemes out of the input; these are the ones a client may send for
// anything else (another API's key, a session cookie, a forwarded token).
type headerMask struct {
	exact map[string]bool
}

// defaultMaskedHeaders are erased from every record; any header whose name
// contains one of sensitiveParts is too.
var (
	defaultMaskedHeaders = []string{
		"authorization", "proxy-authorization", "cookie", "set-cookie",
		"x-api-key", "api-key", "apikey", "x-amz-security-token", "x-forwarded-client-cert",
		"x-ssl-client-cert", "client-cert", "ssl-client-cert",
	}
	sensitiveParts = []string{"token", "secret", "password", "passwd", "api-key", "api_key", "apikey", "session", "credential", "auth", "signature", "jwt", "assertion", "cookie"}
)

func newHeaderMask(extra []string, identityHeader string) headerMask {
	m := headerMask{exact: map[string]bool{}}
	for _, h := range defaultMaskedHeaders {
		m.exact[h] = true
	}
	for _, h := range extra {
		m.exact[strings.ToLower(h)] = true
	}
	if identityHeader != "" {
		m.exact[strings.ToLower(identityHeader)] = true
	}
	return m
}

func (m headerMask) sensitive(name string) bool {
	if m.exact[name] {
		return true
	}
	for _, p := range sensitiveParts {
		if strings.Contains(name, p) {
			return true
		}
	}
	return false
}

// erase removes sensitive headers from input.request.headers and returns
// the JSON pointers it erased (OPA's "erased" member).
func (m headerMask) erase(in map[string]any) []string {
	req, _ := in["request"].(map[string]any)
	hs, _ := req["headers"].(map[string]any)
	var erased []string
	for name := range hs {
		if m.sensitive(name) {
			delete(hs, name)
			erased = append(erased, "/input/request/headers/"+config.EscapePointer(name))
		}
	}
	if len(erased) > 1 {
		slices.Sort(erased)
	}
	return erased
}
