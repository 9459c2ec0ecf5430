// Package audit is what the gateway records of each request it finished:
// the audit line gathered from the decision core's evaluation
// (request.go), written in exactly the JSON shape hclog's JSON formatter
// produces at a fraction of hclog's cost, and one line per rejected
// credential with the authenticator's detail.
package audit

import (
	"encoding/hex"
	"io"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/jsonstr"
)

// Log writes the per-request audit line in exactly the JSON shape
// hclog's JSON formatter produces (the same keys, sorted, the same escaping),
// without hclog's cost: hclog encodes through encoding/json and writes each
// line with one syscall while holding a process-wide lock, which measured at
// 15% of the gateway's CPU under load (make bench). Here a line is appended
// to a pooled buffer outside any lock, then copied into a shared batch that a
// background goroutine writes at least every flushEvery; Close flushes.
//
// Batches are written in chunks of whole lines of at most pipeAtomic bytes,
// so lines never interleave with hclog's own lines on a shared pipe.
type Log struct {
	module string
	out    io.Writer

	mu    sync.Mutex
	batch []byte
	// spare is a written batch's buffer, kept for the next batch: without
	// it every batch grew from nil by doubling, ~1.7 KB allocated per
	// ~400-byte line (gateway BenchmarkPipeline's memory profile).
	spare   []byte
	writeMu sync.Mutex // serializes writes to out

	stop chan struct{}
	done chan struct{}
}

const (
	auditFlushEvery = 100 * time.Millisecond
	auditBatchMax   = 64 << 10
	pipeAtomic      = 4096
)

// TimeFormat is the timestamp of every log line, hclog's and the audit
// line's alike.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

var auditBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// New starts a writer of module's audit lines to out; Close flushes it.
func New(module string, out io.Writer) *Log {
	a := &Log{module: module, out: out, stop: make(chan struct{}), done: make(chan struct{})}
	go a.loop()
	return a
}

func (a *Log) loop() {
	defer close(a.done)
	t := time.NewTicker(auditFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			a.Flush()
		case <-a.stop:
			a.Flush()
			return
		}
	}
}

// Close flushes what is buffered and stops the background writer.
func (a *Log) Close() {
	select {
	case <-a.stop:
	default:
		close(a.stop)
	}
	<-a.done
}

// Flush writes out what is buffered now.
func (a *Log) Flush() {
	a.mu.Lock()
	b := a.batch
	a.batch = nil
	a.mu.Unlock()
	if len(b) > 0 {
		a.write(b)
		a.recycle(b)
	}
}

// recycle keeps a written batch's buffer as the spare, unless one is kept
// already or it grew past twice the batch bound (one very long line).
func (a *Log) recycle(b []byte) {
	if cap(b) > 2*auditBatchMax {
		return
	}
	a.mu.Lock()
	if a.spare == nil {
		a.spare = b[:0]
	}
	a.mu.Unlock()
}

// write sends whole lines in chunks no larger than pipeAtomic where possible.
func (a *Log) write(b []byte) {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	for len(b) > 0 {
		n := len(b)
		if n > pipeAtomic {
			n = 0
			for i, c := range b[:pipeAtomic] {
				if c == '\n' {
					n = i + 1
				}
			}
			if n == 0 { // one line longer than pipeAtomic: write it alone
				for i, c := range b {
					if c == '\n' {
						n = i + 1
						break
					}
				}
				if n == 0 {
					n = len(b)
				}
			}
		}
		_, _ = a.out.Write(b[:n])
		b = b[n:]
	}
}

// Record is one audit line's fields.
type Record struct {
	RequestID      string
	Method         string
	API            string
	Operation      string
	Schemes        []string
	Outcomes       []string
	CredentialIDs  []string
	Decision       string
	Reasons        []string
	Status         int
	DurationMS     float64
	Generation     uint64
	BundleRevision string
	// TraceID and SpanID are the request's trace and its server span, with
	// tracing on (all zero otherwise: the line then has neither key).
	TraceID [16]byte
	SpanID  [8]byte
}

// Traced reports whether the record carries a trace id.
func (r *Record) Traced() bool { return r.TraceID != [16]byte{} }

// KeyValues are the record's fields as hclog key/value pairs: the slow
// path's line, identical to the fast one.
func (r *Record) KeyValues() []any {
	kv := []any{
		"request_id", r.RequestID,
		"method", r.Method,
		"api", r.API,
		"operation", r.Operation,
		"schemes", r.Schemes,
		"outcomes", r.Outcomes,
		"credential_ids", r.CredentialIDs,
		"decision", r.Decision,
		"reasons", r.Reasons,
		"status", r.Status,
		"duration_ms", r.DurationMS,
		"generation", r.Generation,
		"bundle_revision", r.BundleRevision,
	}
	if r.Traced() {
		kv = append(kv, "trace_id", hex.EncodeToString(r.TraceID[:]), "span_id", hex.EncodeToString(r.SpanID[:]))
	}
	return kv
}

// Log encodes and queues one line.
func (a *Log) Log(r *Record) {
	bp := auditBufs.Get().(*[]byte)
	b := appendAuditLine((*bp)[:0], a.module, time.Now(), r)
	a.mu.Lock()
	if a.batch == nil && a.spare != nil {
		a.batch, a.spare = a.spare, nil
	}
	a.batch = append(a.batch, b...)
	full := len(a.batch) >= auditBatchMax
	var out []byte
	if full {
		out, a.batch = a.batch, nil
	}
	a.mu.Unlock()
	*bp = b
	auditBufs.Put(bp)
	if full {
		a.write(out)
		a.recycle(out)
	}
}

// appendAuditLine renders the line with keys in the order encoding/json
// sorts a map (what hclog does): "@level", "@message", "@module",
// "@timestamp", then the fields alphabetically.
func appendAuditLine(b []byte, module string, now time.Time, r *Record) []byte {
	b = append(b, `{"@level":"info","@message":"request","@module":`...)
	b = jsonstr.Append(b, module, true)
	b = append(b, `,"@timestamp":"`...)
	b = now.AppendFormat(b, TimeFormat)
	b = append(b, `","api":`...)
	b = jsonstr.Append(b, r.API, true)
	b = append(b, `,"bundle_revision":`...)
	b = jsonstr.Append(b, r.BundleRevision, true)
	b = append(b, `,"credential_ids":`...)
	b = appendJSONStrings(b, r.CredentialIDs)
	b = append(b, `,"decision":`...)
	b = jsonstr.Append(b, r.Decision, true)
	b = append(b, `,"duration_ms":`...)
	b = appendJSONFloat(b, r.DurationMS)
	b = append(b, `,"generation":`...)
	b = strconv.AppendUint(b, r.Generation, 10)
	b = append(b, `,"method":`...)
	b = jsonstr.Append(b, r.Method, true)
	b = append(b, `,"operation":`...)
	b = jsonstr.Append(b, r.Operation, true)
	b = append(b, `,"outcomes":`...)
	b = appendJSONStrings(b, r.Outcomes)
	b = append(b, `,"reasons":`...)
	b = appendJSONStrings(b, r.Reasons)
	b = append(b, `,"request_id":`...)
	b = jsonstr.Append(b, r.RequestID, true)
	b = append(b, `,"schemes":`...)
	b = appendJSONStrings(b, r.Schemes)
	if r.Traced() {
		b = append(b, `,"span_id":"`...)
		b = hex.AppendEncode(b, r.SpanID[:])
		b = append(b, '"')
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	if r.Traced() {
		b = append(b, `,"trace_id":"`...)
		b = hex.AppendEncode(b, r.TraceID[:])
		b = append(b, '"')
	}
	b = append(b, "}\n"...)
	return b
}

func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, s, true)
	}
	return append(b, ']')
}

// appendJSONFloat formats like encoding/json does for float64.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(b, '0')
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
