package ratelimit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/redisconn"
)

// errDown is a check that skipped Redis because the Conn is down.
var errDown = errors.New("redis unavailable")

// onError answers checks while Redis is unavailable, as on_store_error
// says: local counters with each limit divided by the replica count (so
// the fleet together stays near the global limit), 429, or no limit.
type onError struct {
	mode     string
	local    *localStore
	replicas int
}

// share is one replica's part of a limit: the rate and the burst divided
// by the replica count (a burst of at least 1, so every replica can serve).
func (f *onError) share(s rateSpec) rateSpec {
	if f.replicas <= 1 {
		return s
	}
	return rateSpec{rate: s.rate / float64(f.replicas), burst: max(1, s.burst/f.replicas)}
}

func (f *onError) peek(ctx context.Context, key string, s rateSpec) (bool, time.Duration) {
	switch f.mode {
	case OnErrorDeny:
		return false, time.Second
	case OnErrorAllow:
		return true, 0
	}
	return f.local.peek(ctx, key, f.share(s))
}

func (f *onError) take(ctx context.Context, key string, s rateSpec) (bool, time.Duration) {
	switch f.mode {
	case OnErrorDeny:
		return false, time.Second
	case OnErrorAllow:
		return true, 0
	}
	return f.local.take(ctx, key, f.share(s))
}

func (f *onError) charge(ctx context.Context, key string, s rateSpec) {
	if f.mode == OnErrorLocal {
		f.local.charge(ctx, key, f.share(s))
	}
}

// redisStore shares buckets through Redis, one script call per check. A
// Redis that fails or is slow (timeout) leaves the decision to onError; the
// Conn then skips Redis until a probe finds it answering again.
type redisStore struct {
	conn     *redisconn.Conn
	lim      atomic.Pointer[clientLimiter]
	prefix   string
	timeout  time.Duration
	onErr    *onError
	log      hclog.Logger
	failures func()
	calls    func()
	mu       sync.Mutex
	lastLog  time.Time
}

// clientLimiter is redis_rate's limiter over one client of the Conn (a new
// client replaces it after an outage).
type clientLimiter struct {
	c   redis.UniversalClient
	lim *redis_rate.Limiter
}

func newRedisStore(conn *redisconn.Conn, r *RedisConfig, log hclog.Logger, onErr *onError, failures, calls func()) *redisStore {
	return &redisStore{conn: conn, prefix: r.KeyPrefix, timeout: r.Timeout.D(), onErr: onErr,
		log: log, failures: failures, calls: calls}
}

func (s *redisStore) limiter() *clientLimiter {
	c := s.conn.Client()
	if l := s.lim.Load(); l != nil && l.c == c {
		return l
	}
	l := &clientLimiter{c: c, lim: redis_rate.NewLimiter(c)}
	s.lim.Store(l)
	return l
}

// redisLimit turns a spec into redis_rate's shape: one token per emission
// interval, so fractional rates work.
func redisLimit(s rateSpec) redis_rate.Limit {
	period := time.Duration(float64(time.Second) / s.rate)
	return redis_rate.Limit{Rate: 1, Burst: s.burst, Period: max(period, time.Microsecond)}
}

func (s *redisStore) call(ctx context.Context, key string, spec rateSpec, n int) (*redis_rate.Result, error) {
	if !s.conn.Up() {
		s.failures()
		return nil, errDown
	}
	l := s.limiter()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	s.calls()
	res, err := l.lim.AllowN(ctx, s.prefix+key, redisLimit(spec), n)
	if err != nil {
		s.failures()
		if !s.conn.Report(l.c, err) { // an answer, not an outage: the Conn logs outages
			s.mu.Lock()
			if time.Since(s.lastLog) > time.Minute {
				s.lastLog = time.Now()
				s.log.Warn("rate limit check failed in redis; on_store_error decides", "error", err.Error())
			}
			s.mu.Unlock()
		}
	}
	return res, err
}

func (s *redisStore) peek(ctx context.Context, key string, spec rateSpec) (bool, time.Duration) {
	res, err := s.call(ctx, key, spec, 0)
	if err != nil {
		return s.onErr.peek(ctx, key, spec)
	}
	if res.Remaining >= 1 {
		return true, 0
	}
	return false, time.Duration(float64(time.Second) / spec.rate)
}

func (s *redisStore) take(ctx context.Context, key string, spec rateSpec) (bool, time.Duration) {
	res, err := s.call(ctx, key, spec, 1)
	if err != nil {
		return s.onErr.take(ctx, key, spec)
	}
	return res.Allowed > 0, max(res.RetryAfter, 0)
}

func (s *redisStore) charge(ctx context.Context, key string, spec rateSpec) {
	if _, err := s.call(ctx, key, spec, 1); err != nil {
		s.onErr.charge(ctx, key, spec)
	}
}
