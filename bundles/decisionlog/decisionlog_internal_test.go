package decisionlog

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/plugins/logs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse/gatehouse/bundles"
)

// stallingSink holds the writer in its first write until released: the
// writer has fallen behind, as a slow disk or service would make it.
type stallingSink struct {
	release chan struct{}
	writes  atomic.Int64
}

func (s *stallingSink) write(context.Context, *logs.EventV1) error {
	if s.writes.Add(1) == 1 {
		<-s.release
	}
	return nil
}
func (s *stallingSink) flush() error                { return nil }
func (s *stallingSink) close(context.Context) error { return nil }

// A writer that falls behind never slows requests: records beyond the
// bounded queue are dropped and counted, and every record is either
// written or counted as dropped.
func TestDecisionLogQueueFullDropsAndCounts(t *testing.T) {
	eng, err := bundles.Load(context.Background(), bundles.Options{Base: true})
	if err != nil {
		t.Fatal(err)
	}
	sink := &stallingSink{release: make(chan struct{})}
	d := &Logger{
		log: hclog.NewNullLogger(), ch: make(chan Record, 2),
		quit: make(chan struct{}), done: make(chan struct{}),
		mask: newHeaderMask(nil, ""), sinks: []decisionSink{sink},
		dropped:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "d"}, []string{"reason"}),
		written:  prometheus.NewCounter(prometheus.CounterOpts{Name: "w"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "f"}),
	}
	go d.run()
	rec := Record{At: time.Now(), RequestID: "r", Engine: eng, Generation: 1, Input: ast.NewObject(), Status: 200}
	d.Record(rec)
	for sink.writes.Load() == 0 { // the writer is now stuck in the sink
		time.Sleep(time.Millisecond)
	}
	const n = 50
	for range n {
		d.Record(rec) // returns at once: queued or dropped
	}
	dropped := testutil.ToFloat64(d.dropped.WithLabelValues("queue_full"))
	if dropped != n-2 {
		t.Fatalf("dropped %v, want %d (queue of 2)", dropped, n-2)
	}
	close(sink.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.Close(ctx)
	if w := testutil.ToFloat64(d.written); w+dropped != n+1 {
		t.Fatalf("written %v + dropped %v != %d records", w, dropped, n+1)
	}
}

type discardSink struct{}

func (discardSink) write(context.Context, *logs.EventV1) error { return nil }
func (discardSink) flush() error                               { return nil }
func (discardSink) close(context.Context) error                { return nil }

// BenchmarkDecisionLogRecord is what a request pays for its decision
// record: one non-blocking send of a small struct (the writer goroutine's
// work — JSON conversion, masking, writing — is not on the request path).
func BenchmarkDecisionLogRecord(b *testing.B) {
	eng, err := bundles.Load(context.Background(), bundles.Options{Base: true})
	if err != nil {
		b.Fatal(err)
	}
	d := &Logger{
		log: hclog.NewNullLogger(), ch: make(chan Record, 10000),
		quit: make(chan struct{}), done: make(chan struct{}),
		mask: newHeaderMask(nil, ""), sinks: []decisionSink{discardSink{}},
		dropped:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "d"}, []string{"reason"}),
		written:  prometheus.NewCounter(prometheus.CounterOpts{Name: "w"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "f"}),
	}
	go d.run()
	defer d.Close(context.Background())
	rec := Record{At: time.Now(), RequestID: "r", Engine: eng, Generation: 1, Input: ast.NewObject(), Status: 200}
	b.ReportAllocs()
	for b.Loop() {
		d.Record(rec)
	}
}
