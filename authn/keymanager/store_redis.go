package keymanager

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/redisconn"
)

// RedisConfig configures a RedisStore.
type RedisConfig struct {
	// Conn is the Redis: one node, Sentinel or Cluster, TLS.
	Conn redisconn.Config
	// Dir anchors Conn's file: secrets and TLS files.
	Dir string
	// KeyPrefix namespaces the keys ("gatehouse:tokens:" by default):
	// key managers sharing one Redis database use different prefixes.
	KeyPrefix string
	// Timeout bounds dialing and each command (2 s by default).
	Timeout time.Duration
	// Log gets a line when Redis becomes unavailable and when it answers
	// again.
	Log hclog.Logger
}

// DefaultRedisPrefix is the key prefix of a RedisStore unless configured.
const DefaultRedisPrefix = "gatehouse:tokens:"

// RedisStore keeps tokens in Redis, so several gateway replicas share
// issued tokens and revocations: a record is one key (prefix + hex Key)
// holding the record, expiring with the token (PXAT); revocation deletes it.
// While its Conn knows Redis is unavailable, calls fail at once with
// ErrStore instead of waiting for a timeout each.
type RedisStore struct {
	conn   *redisconn.Conn
	prefix string
	now    func() time.Time
}

var _ Store = (*RedisStore)(nil)

// errUnavailable is a call made while the Conn is down.
var errUnavailable = errors.New("redis unavailable")

// OpenRedis connects and checks the connection with a PING.
func OpenRedis(ctx context.Context, cfg RedisConfig, now func() time.Time) (*RedisStore, error) {
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = DefaultRedisPrefix
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	conn, err := redisconn.Open(&cfg.Conn, cfg.Dir, redisconn.Settings{Timeout: cfg.Timeout, MaxRetries: 1, Log: cfg.Log})
	if err != nil {
		return nil, fmt.Errorf("%w: redis: %w", ErrStore, err)
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := conn.Client().Ping(pctx).Err(); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("%w: redis %s: %w", ErrStore, cfg.Conn.Key(), err)
	}
	return &RedisStore{conn: conn, prefix: cfg.KeyPrefix, now: now}, nil
}

// Up reports whether Redis answered the store's last command.
func (s *RedisStore) Up() bool { return s.conn.Up() }

func (s *RedisStore) key(k Key) string { return s.prefix + hex.EncodeToString(k[:]) }

// client is the Conn's client, or ErrStore while Redis is known down.
func (s *RedisStore) client() (redis.UniversalClient, error) {
	if !s.conn.Up() {
		return nil, fmt.Errorf("%w: %w", ErrStore, errUnavailable)
	}
	return s.conn.Client(), nil
}

// fail wraps a command error, telling the Conn about outages.
func (s *RedisStore) fail(c redis.UniversalClient, err error) error {
	s.conn.Report(c, err)
	return fmt.Errorf("%w: %w", ErrStore, err)
}

// Save stores rec under k, expiring at rec.ExpiresAt.
func (s *RedisStore) Save(ctx context.Context, k Key, rec Record) error {
	ttl := rec.ExpiresAt.Sub(s.now())
	if ttl <= 0 {
		return nil
	}
	v, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	c, err := s.client()
	if err != nil {
		return err
	}
	if err := c.SetArgs(ctx, s.key(k), v, redis.SetArgs{ExpireAt: rec.ExpiresAt}).Err(); err != nil {
		return s.fail(c, err)
	}
	return nil
}

// Lookup returns the live record under k.
func (s *RedisStore) Lookup(ctx context.Context, k Key) (Record, error) {
	c, err := s.client()
	if err != nil {
		return Record{}, err
	}
	v, err := c.Get(ctx, s.key(k)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, s.fail(c, err)
	}
	return liveRecord(v, s.now())
}

// Revoke deletes the record under k.
func (s *RedisStore) Revoke(ctx context.Context, k Key) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	if err := c.Del(ctx, s.key(k)).Err(); err != nil {
		return s.fail(c, err)
	}
	return nil
}

// Close closes the connection pool.
func (s *RedisStore) Close() error { return s.conn.Close() }

// Ping asks Redis for PONG (readiness); known down answers at once.
func (s *RedisStore) Ping(ctx context.Context) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	if err := c.Ping(ctx).Err(); err != nil {
		return s.fail(c, err)
	}
	return nil
}
