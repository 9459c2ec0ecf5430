package keymanager

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig configures a RedisStore.
type RedisConfig struct {
	// Addr is host:port.
	Addr     string
	Username string
	Password string
	DB       int
	// TLS, when set, connects over TLS with this configuration.
	TLS *tls.Config
	// KeyPrefix namespaces the keys ("gatehouse:tokens:" by default):
	// key managers sharing one Redis database use different prefixes.
	KeyPrefix string
	// Timeout bounds dialing and each command (2 s by default).
	Timeout time.Duration
}

// DefaultRedisPrefix is the key prefix of a RedisStore unless configured.
const DefaultRedisPrefix = "gatehouse:tokens:"

// RedisStore keeps tokens in Redis, so several gateway replicas share
// issued tokens and revocations: a record is one key (prefix + hex Key)
// holding the record, expiring with the token (PXAT); revocation deletes it.
type RedisStore struct {
	c      *redis.Client
	prefix string
	now    func() time.Time
}

var _ Store = (*RedisStore)(nil)

// OpenRedis connects and checks the connection with a PING.
func OpenRedis(ctx context.Context, cfg RedisConfig, now func() time.Time) (*RedisStore, error) {
	if cfg.Addr == "" {
		return nil, errors.New("keymanager: redis store needs an address")
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = DefaultRedisPrefix
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	c := redis.NewClient(&redis.Options{
		Addr:            cfg.Addr,
		Username:        cfg.Username,
		Password:        cfg.Password,
		DB:              cfg.DB,
		TLSConfig:       cfg.TLS,
		DialTimeout:     cfg.Timeout,
		ReadTimeout:     cfg.Timeout,
		WriteTimeout:    cfg.Timeout,
		MaxRetries:      1,
		DisableIdentity: true,
	})
	pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("%w: redis %s: %w", ErrStore, cfg.Addr, err)
	}
	return &RedisStore{c: c, prefix: cfg.KeyPrefix, now: now}, nil
}

func (s *RedisStore) key(k Key) string { return s.prefix + hex.EncodeToString(k[:]) }

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
	if err := s.c.SetArgs(ctx, s.key(k), v, redis.SetArgs{ExpireAt: rec.ExpiresAt}).Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// Lookup returns the live record under k.
func (s *RedisStore) Lookup(ctx context.Context, k Key) (Record, error) {
	v, err := s.c.Get(ctx, s.key(k)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrStore, err)
	}
	return liveRecord(v, s.now())
}

// Revoke deletes the record under k.
func (s *RedisStore) Revoke(ctx context.Context, k Key) error {
	if err := s.c.Del(ctx, s.key(k)).Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// Close closes the connection pool.
func (s *RedisStore) Close() error { return s.c.Close() }

// Ping asks Redis for PONG (readiness).
func (s *RedisStore) Ping(ctx context.Context) error { return s.c.Ping(ctx).Err() }
