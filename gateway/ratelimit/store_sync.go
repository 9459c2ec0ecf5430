package ratelimit

import (
	"context"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/redisconn"
)

// syncStore is the synchronized mode (rate_limits.redis.sync_interval), as
// Kong's sync_rate: checks are answered from a local estimate of each Redis
// bucket, and once per interval one pipelined batch sends Redis what this
// replica admitted since the last batch and reads back each bucket's tokens.
// A replica makes one Redis round trip per interval however many requests
// it serves (plus one per 1000 keys active in the interval).
//
// A replica sees the others' traffic only in its batches, so the fleet
// can admit more than the bucket holds. Each replica admits, between two
// of its batches, at most its share of the tokens it last saw (capped at
// the burst B) plus what refilled since: share = 1/R with R the configured
// replicas, and at least one token while its estimate holds one (so a
// small burst never locks everyone out). That is at most B/R + 1 requests
// a replica has admitted and Redis has not yet been told of, and at most
// twice that unseen by another replica (its batches run at other times:
// they are aligned to the wall clock, which narrows it to about once).
// Redis is charged for everything admitted, so the bucket goes into debt
// and every replica refuses until the refill has paid it back. With N
// replicas running, over any window W at rate r the fleet admits at most
//
//	B + r·W + 2·(N−1)·(B/R + 1)
//
// for a key every replica keeps using. A batch refreshes only the keys
// checked since the previous one, so a replica that starts using a key
// (new to it: assumed full; or unused in its last interval: its older view,
// refilled) decides from that view until its next batch, which can add
// B/R + 1 per such start.
//
// R = 1 (the default) is Kong's behaviour: each replica may spend the
// whole bucket between batches (3 replicas, B = 30: 90 admitted in
// TestSyncAccuracyBound). R = N keeps the excess to a fraction of B (39).
//
// A bucket's state in Redis is a GCRA theoretical arrival time, like
// redis_rate's, under its own key (prefix + "s:" + key): the script charges
// the batch unconditionally (the requests were already admitted) on Redis's
// clock and returns the tokens left, negative in debt.
type syncStore struct {
	conn     *redisconn.Conn
	prefix   string
	timeout  time.Duration
	interval time.Duration
	replicas float64
	onErr    *onError
	log      hclog.Logger
	failures func()
	calls    func()

	seed   maphash.Seed
	shards [32]syncShard
	max    int // per shard

	stale    atomic.Bool // the last batch failed: onError decides
	start    sync.Once   // the batch loop starts with the first check
	stop     chan struct{}
	done     chan struct{}
	syncMu   sync.Mutex // one batch at a time
	lastSync time.Time
}

type syncShard struct {
	mu sync.Mutex
	m  map[string]*syncBucket
}

// syncBucket is this replica's view of one Redis bucket.
type syncBucket struct {
	spec     rateSpec
	tokens   float64   // the bucket's tokens at the last batch (negative: debt)
	at       time.Time // when tokens was read
	used     float64   // admitted here since at
	pending  int       // admitted here, not yet sent
	inflight int       // sent in the running batch
	seen     time.Time // last check
}

// syncScript charges ARGV[3] tokens to the bucket at KEYS[1] (rate
// ARGV[1]/s, burst ARGV[2]) and returns the tokens left. The arrival time
// is kept in seconds since 2025 (precise to the microsecond in a double).
var syncScript = redis.NewScript(`
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call("TIME")
local now = (tonumber(t[1]) - 1735689600) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call("GET", KEYS[1])) or now
if tat < now then tat = now end
tat = tat + n / rate
local ahead = tat - now
if ahead > 0 then
  redis.call("SET", KEYS[1], string.format("%.6f", tat), "PX", math.ceil(ahead * 1000) + 1000)
end
return string.format("%.6f", burst - ahead * rate)
`)

func newSyncStore(conn *redisconn.Conn, r *RedisConfig, maxKeys int, log hclog.Logger, onErr *onError, failures, calls func()) *syncStore {
	s := &syncStore{conn: conn, prefix: r.KeyPrefix + "s:", timeout: r.Timeout.D(), interval: r.SyncInterval.D(),
		replicas: float64(max(r.Replicas, 1)), onErr: onErr, log: log, failures: failures, calls: calls,
		seed: maphash.MakeSeed(), max: max(maxKeys/32, 4), stop: make(chan struct{}), done: make(chan struct{})}
	for i := range s.shards {
		s.shards[i].m = map[string]*syncBucket{}
	}
	return s
}

// run batches every interval until close. It starts with the first check,
// so a generation that is only built (gatehouse check) starts nothing.
func (s *syncStore) run() {
	defer close(s.done)
	// batches on multiples of the interval since the epoch, so replicas
	// with synchronized clocks batch together
	now := time.Now()
	select {
	case <-s.stop:
		return
	case <-time.After(now.Truncate(s.interval).Add(s.interval).Sub(now)):
	}
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.syncOnce(context.Background())
		}
	}
}

func (s *syncStore) close() {
	close(s.stop)
	s.start.Do(func() { close(s.done) }) // never started: nothing to wait for
	<-s.done
}

// check finds key's bucket and, with it locked, calls f with the tokens
// this replica may still admit. ok is false when the bucket cannot be
// used: Redis is unavailable (onError decides) or the store is full
// (uncounted, like the local store).
func (s *syncStore) check(key string, spec rateSpec, f func(b *syncBucket, avail float64)) (ok, full bool) {
	s.start.Do(func() { go s.run() })
	if s.stale.Load() || !s.conn.Up() {
		s.failures()
		return false, false
	}
	now := time.Now()
	sh := &s.shards[maphash.String(s.seed, key)%uint64(len(s.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b, found := sh.m[key]
	if !found {
		if len(sh.m) >= s.max {
			return false, true
		}
		// unseen here: assume a full bucket until the next batch says
		b = &syncBucket{spec: spec, tokens: float64(spec.burst), at: now}
		sh.m[key] = b
	}
	b.spec = spec
	b.seen = now
	est := min(float64(spec.burst), b.tokens+spec.rate*now.Sub(b.at).Seconds())
	allowance := est / s.replicas
	if est >= 1 {
		allowance = max(allowance, 1)
	}
	f(b, allowance-b.used)
	return true, false
}

// wait is how long until avail reaches 1 at this replica's share of the
// refill.
func (s *syncStore) wait(avail float64, spec rateSpec) time.Duration {
	return max(s.interval, time.Duration((1-avail)*s.replicas/spec.rate*float64(time.Second)))
}

func (s *syncStore) peek(ctx context.Context, key string, spec rateSpec) (bool, time.Duration) {
	var allowed bool
	var retry time.Duration
	ok, full := s.check(key, spec, func(b *syncBucket, avail float64) {
		if allowed = avail >= 1; !allowed {
			retry = s.wait(avail, spec)
		}
	})
	switch {
	case full:
		return true, 0
	case !ok:
		return s.onErr.peek(ctx, key, spec)
	}
	return allowed, retry
}

func (s *syncStore) take(ctx context.Context, key string, spec rateSpec) (bool, time.Duration) {
	var allowed bool
	var retry time.Duration
	ok, full := s.check(key, spec, func(b *syncBucket, avail float64) {
		if allowed = avail >= 1; allowed {
			b.used++
			b.pending++
		} else {
			retry = s.wait(avail, spec)
		}
	})
	switch {
	case full:
		return true, 0
	case !ok:
		return s.onErr.take(ctx, key, spec)
	}
	return allowed, retry
}

func (s *syncStore) charge(ctx context.Context, key string, spec rateSpec) {
	ok, full := s.check(key, spec, func(b *syncBucket, _ float64) {
		b.used++
		b.pending++
	})
	if !ok && !full {
		s.onErr.charge(ctx, key, spec)
	}
}

// batchSize bounds the commands of one pipeline.
const batchSize = 1000

type syncItem struct {
	key  string
	b    *syncBucket
	sh   *syncShard
	n    int
	spec rateSpec // as the bucket had it at the snapshot
	cmd  *redis.Cmd
}

// syncOnce sends every bucket checked since the last batch (with what this
// replica admitted) and reads back their tokens; buckets unchecked for a
// while are dropped (they start full again, which after idling for the
// time a bucket takes to refill they are). While the Conn is down it does
// nothing: the next batch after Redis returns sends what was pending.
func (s *syncStore) syncOnce(ctx context.Context) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if !s.conn.Up() {
		return
	}
	since := s.lastSync
	s.lastSync = time.Now()
	var items []syncItem
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, b := range sh.m {
			if b.pending == 0 && !b.seen.After(since) {
				idle := time.Since(b.seen)
				if idle > s.interval && idle.Seconds() > float64(b.spec.burst)/b.spec.rate && b.inflight == 0 {
					delete(sh.m, k)
				}
				continue
			}
			b.inflight, b.pending = b.pending, 0
			items = append(items, syncItem{key: k, b: b, sh: sh, n: b.inflight, spec: b.spec})
		}
		sh.mu.Unlock()
	}
	failed := false
	for start := 0; start < len(items); start += batchSize {
		if !s.send(ctx, items[start:min(start+batchSize, len(items))]) {
			failed = true
		}
	}
	s.stale.Store(failed)
}

// send runs one pipeline and applies its answers; on failure the counts go
// back to pending for the next batch.
func (s *syncStore) send(ctx context.Context, items []syncItem) bool {
	c := s.conn.Client()
	run := func(items []syncItem, eval bool) error {
		ctx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		s.calls()
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := range items {
				it := &items[i]
				args := []any{strconv.FormatFloat(it.spec.rate, 'g', -1, 64), it.spec.burst, it.n}
				if eval {
					it.cmd = syncScript.Eval(ctx, p, []string{s.prefix + it.key}, args...)
				} else {
					it.cmd = syncScript.EvalSha(ctx, p, []string{s.prefix + it.key}, args...)
				}
			}
			return nil
		})
		return err
	}
	err := run(items, false)
	if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		// a new or restarted Redis: EVAL loads the script for the next batches
		var again []syncItem
		for _, it := range items {
			if it.cmd.Err() != nil && strings.HasPrefix(it.cmd.Err().Error(), "NOSCRIPT") {
				again = append(again, it)
			}
		}
		if err = run(again, true); err == nil {
			for _, a := range again {
				for i := range items {
					if items[i].b == a.b {
						items[i].cmd = a.cmd
					}
				}
			}
		}
	}
	if err != nil && !s.conn.Report(c, err) {
		s.log.Warn("rate limit batch failed in redis; on_store_error decides until the next batch", "error", err.Error())
	}
	now := time.Now()
	ok := true
	for _, it := range items {
		it.sh.mu.Lock()
		tokens, cerr := it.cmd.Text()
		v, perr := strconv.ParseFloat(tokens, 64)
		if cerr == nil && perr == nil {
			it.b.tokens, it.b.at = v, now
			it.b.used = float64(it.b.pending) // admitted during the batch
		} else {
			ok = false
			it.b.pending += it.b.inflight
		}
		it.b.inflight = 0
		it.sh.mu.Unlock()
	}
	return ok
}
