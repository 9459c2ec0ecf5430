package dpop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Replay remembers the proofs already used. Use records key until until
// and reports whether it was new; a proof whose key was seen is a replay.
// Any error is a technical failure: the caller fails closed.
type Replay interface {
	Use(ctx context.Context, key ReplayKey, until time.Time) (fresh bool, err error)
}

// ReplayKey identifies a proof: a SHA-256 prefix of its key's thumbprint
// and its jti. The jti is scoped by the key, so nobody can use up another
// client's jti values (a proof is signed by its key).
type ReplayKey [16]byte

func replayKey(jkt, jti string) ReplayKey {
	h := sha256.New()
	h.Write([]byte(jkt))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	var k ReplayKey
	copy(k[:], h.Sum(nil))
	return k
}

// ErrReplayFull reports that the in-memory replay cache holds MaxEntries
// unexpired proofs: the request fails closed rather than forget one.
var ErrReplayFull = errors.New("dpop: replay cache is full")

// DefaultMaxReplayEntries bounds a Memory replay cache (about 50 MB).
const DefaultMaxReplayEntries = 1 << 20

// Memory is a Replay of one process: sharded maps from key to expiry,
// swept of expired keys at most once a second per shard.
type Memory struct {
	shards   [16]memShard
	perShard int
	now      func() time.Time
}

type memShard struct {
	mu        sync.Mutex
	m         map[ReplayKey]int64 // expiry, Unix nanoseconds
	nextSweep int64
}

// NewMemory makes an in-memory replay cache of at most maxEntries keys
// (DefaultMaxReplayEntries when 0).
func NewMemory(maxEntries int, now func() time.Time) *Memory {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxReplayEntries
	}
	if now == nil {
		now = time.Now
	}
	m := &Memory{perShard: max(1, maxEntries/16), now: now}
	for i := range m.shards {
		m.shards[i].m = map[ReplayKey]int64{}
	}
	return m
}

// Use records key until until.
func (m *Memory) Use(_ context.Context, key ReplayKey, until time.Time) (bool, error) {
	s := &m.shards[key[0]%16]
	now := m.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.m[key]; ok && exp > now {
		return false, nil
	}
	if len(s.m) >= m.perShard || now >= s.nextSweep {
		for k, exp := range s.m {
			if exp <= now {
				delete(s.m, k)
			}
		}
		s.nextSweep = now + int64(time.Second)
		if len(s.m) >= m.perShard {
			return false, ErrReplayFull
		}
	}
	s.m[key] = until.UnixNano()
	return true, nil
}

// Len is the number of keys held, expired or not (for tests and metrics).
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		m.shards[i].mu.Lock()
		n += len(m.shards[i].m)
		m.shards[i].mu.Unlock()
	}
	return n
}

// Redis is a Replay shared by every gateway replica using the same Redis:
// one key per proof (prefix + hex key), set only if absent (SET NX) and
// expiring when the proof could no longer pass its iat check.
type Redis struct {
	c      redis.UniversalClient
	prefix string
}

// DefaultRedisPrefix namespaces the replay keys unless configured.
const DefaultRedisPrefix = "gatehouse:dpop:"

// NewRedis uses c (owned by the caller) with keys under prefix.
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &Redis{c: c, prefix: prefix}
}

// Use records key until until with SET NX PXAT.
func (r *Redis) Use(ctx context.Context, key ReplayKey, until time.Time) (bool, error) {
	// A TTL of 0 would mean "never expires": keep every key at least a second.
	ttl := max(time.Until(until), time.Second)
	ok, err := r.c.SetNX(ctx, r.prefix+hex.EncodeToString(key[:]), 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("dpop: replay cache: %w", err)
	}
	return ok, nil
}
