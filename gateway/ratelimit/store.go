package ratelimit

import (
	"context"
	"hash/maphash"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Counters behind the rate limits: token buckets in process memory
// (golang.org/x/time/rate); GCRA buckets in Redis shared by every replica,
// one script call per check (github.com/go-redis/redis_rate, store_redis.go);
// or local estimates of the Redis buckets reconciled in batches
// (store_sync.go). All answer the same three questions.

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

// RetrySeconds renders a Retry-After value: whole seconds, at least 1.
func RetrySeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
