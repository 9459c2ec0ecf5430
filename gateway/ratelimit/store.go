package ratelimit

import (
	"context"
	"crypto/tls"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Counters behind the rate limits: token buckets in process memory
// (golang.org/x/time/rate), or GCRA buckets in Redis shared by every replica
// (github.com/go-redis/redis_rate: one script call per check). Both answer
// the same three questions.

// rateSpec is one bucket's shape.
type rateSpec struct {
	rate  float64 // tokens per second
	burst int
}

// rateStore holds buckets by key.
type rateStore interface {
	// peek reports whether key has a whole token left, without taking it.
	peek(ctx context.Context, key string, s rateSpec) (bool, time.Duration)
	// take takes a token if there is one.
	take(ctx context.Context, key string, s rateSpec) (bool, time.Duration)
	// charge takes a token whether or not there is one (after the fact).
	charge(ctx context.Context, key string, s rateSpec)
}

// retryAfter is how long until a bucket with tokens t has one again.
func retryAfter(t float64, s rateSpec) time.Duration {
	if t >= 1 {
		return 0
	}
	return time.Duration((1 - t) / s.rate * float64(time.Second))
}

// localStore keeps buckets in sharded maps. Full buckets carry no state and
// are swept when a shard fills; past maxKeys new keys go uncounted (allowed)
// rather than evicting someone's debt.
type localStore struct {
	seed   maphash.Seed
	shards [32]localShard
	max    int // per shard
}

type localShard struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newLocalStore(maxKeys int) *localStore {
	s := &localStore{seed: maphash.MakeSeed(), max: max(maxKeys/32, 4)}
	for i := range s.shards {
		s.shards[i].m = map[string]*rate.Limiter{}
	}
	return s
}

func (s *localStore) bucket(key string, spec rateSpec, now time.Time) *rate.Limiter {
	sh := &s.shards[maphash.String(s.seed, key)%uint64(len(s.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	l, ok := sh.m[key]
	if !ok {
		if len(sh.m) >= s.max {
			for k, b := range sh.m {
				if b.TokensAt(now) >= float64(b.Burst()) {
					delete(sh.m, k)
				}
			}
			if len(sh.m) >= s.max {
				return nil
			}
		}
		l = rate.NewLimiter(rate.Limit(spec.rate), spec.burst)
		sh.m[key] = l
		return l
	}
	if l.Limit() != rate.Limit(spec.rate) || l.Burst() != spec.burst {
		l.SetLimitAt(now, rate.Limit(spec.rate))
		l.SetBurstAt(now, spec.burst)
	}
	return l
}

func (s *localStore) peek(_ context.Context, key string, spec rateSpec) (bool, time.Duration) {
	now := time.Now()
	l := s.bucket(key, spec, now)
	if l == nil {
		return true, 0
	}
	t := l.TokensAt(now)
	return t >= 1, retryAfter(t, spec)
}

func (s *localStore) take(_ context.Context, key string, spec rateSpec) (bool, time.Duration) {
	now := time.Now()
	l := s.bucket(key, spec, now)
	if l == nil || l.AllowN(now, 1) {
		return true, 0
	}
	return false, retryAfter(l.TokensAt(now), spec)
}

func (s *localStore) charge(_ context.Context, key string, spec rateSpec) {
	now := time.Now()
	if l := s.bucket(key, spec, now); l != nil {
		_ = l.ReserveN(now, 1) // may go into debt: a flood pays it back
	}
}

// redisStore shares buckets through Redis. A Redis that fails or is slow
// (timeout) leaves the decision to the local store, so an outage of the
// counters neither stops traffic nor lifts the limits.
type redisStore struct {
	c        *redis.Client
	lim      *redis_rate.Limiter
	prefix   string
	timeout  time.Duration
	fallback *localStore
	log      hclog.Logger
	failures func()
	mu       sync.Mutex
	lastLog  time.Time
}

func newRedisStore(r *RedisConfig, dir string, log hclog.Logger, fallback *localStore, failures func()) (*redisStore, error) {
	opts := &redis.Options{
		Addr:            r.Address,
		Username:        r.Username,
		DB:              r.DB,
		DialTimeout:     r.Timeout.D(),
		ReadTimeout:     r.Timeout.D(),
		WriteTimeout:    r.Timeout.D(),
		MaxRetries:      -1, // a retry would double the wait; the local store answers instead
		DisableIdentity: true,
	}
	if r.Password != "" {
		pw, err := r.Password.Resolve(dir)
		if err != nil {
			return nil, fmt.Errorf("rate_limits.redis.password: %w", err)
		}
		opts.Password = pw.Reveal()
	}
	if r.TLS {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	c := redis.NewClient(opts)
	return &redisStore{c: c, lim: redis_rate.NewLimiter(c), prefix: r.KeyPrefix, timeout: r.Timeout.D(),
		fallback: fallback, log: log, failures: failures}, nil
}

// limit turns a spec into redis_rate's shape: one token per emission
// interval, so fractional rates work.
func redisLimit(s rateSpec) redis_rate.Limit {
	period := time.Duration(float64(time.Second) / s.rate)
	return redis_rate.Limit{Rate: 1, Burst: s.burst, Period: max(period, time.Microsecond)}
}

func (s *redisStore) call(ctx context.Context, key string, spec rateSpec, n int) (*redis_rate.Result, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	res, err := s.lim.AllowN(ctx, s.prefix+key, redisLimit(spec), n)
	if err != nil {
		s.failures()
		s.mu.Lock()
		if time.Since(s.lastLog) > time.Minute {
			s.lastLog = time.Now()
			s.log.Warn("rate limit counters unavailable in redis; local counters decide", "error", err.Error())
		}
		s.mu.Unlock()
	}
	return res, err
}

func (s *redisStore) peek(ctx context.Context, key string, spec rateSpec) (bool, time.Duration) {
	res, err := s.call(ctx, key, spec, 0)
	if err != nil {
		return s.fallback.peek(ctx, key, spec)
	}
	if res.Remaining >= 1 {
		return true, 0
	}
	return false, time.Duration(float64(time.Second) / spec.rate)
}

func (s *redisStore) take(ctx context.Context, key string, spec rateSpec) (bool, time.Duration) {
	res, err := s.call(ctx, key, spec, 1)
	if err != nil {
		return s.fallback.take(ctx, key, spec)
	}
	return res.Allowed > 0, max(res.RetryAfter, 0)
}

func (s *redisStore) charge(ctx context.Context, key string, spec rateSpec) {
	if _, err := s.call(ctx, key, spec, 1); err != nil {
		s.fallback.charge(ctx, key, spec)
	}
}

// RetrySeconds renders a Retry-After value: whole seconds, at least 1.
func RetrySeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
