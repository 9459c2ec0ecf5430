package keymanager

import (
	"context"
	"errors"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/redisconn"
)

// StoreConfig selects and configures the token store (the store section
// of the gateway's internal_key_manager).
type StoreConfig struct {
	// Type is file (default: one bbolt file, one gateway process) or redis
	// (replicas share tokens and revocations).
	Type string `json:"type"`
	Path string `json:"path"`
	// Redis connection: one node, Sentinel or Cluster, TLS.
	redisconn.Config
	KeyPrefix string `json:"key_prefix"`
}

// Store types and the default file store path.
const (
	StoreFile        = "file"
	StoreRedis       = "redis"
	DefaultStorePath = "gatehouse-tokens.db"
)

// Stores holds the internal key manager's token stores for a whole
// process: a store outlives configuration generations (a bbolt file can be
// opened once per process; a Redis pool is reused), so a reload with the
// same store settings keeps the same store. A gateway Server closes them
// at shutdown.
type Stores struct {
	mu     sync.Mutex
	stores map[string]Store
	log    hclog.Logger // Redis stores' outage lines; nil: none
}

// NewStores returns an empty holder.
func NewStores() *Stores { return &Stores{stores: map[string]Store{}} }

// WithLog sets the logger of the Redis stores opened from now on: a line
// when Redis becomes unavailable and one when it answers again.
func (k *Stores) WithLog(log hclog.Logger) *Stores {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.log = log
	return k
}

// storeKey identifies a store's settings (secrets resolved at open are not
// part of it: a changed password needs a restart). dir anchors relative
// paths.
func storeKey(dir string, s StoreConfig) string {
	if s.Type == StoreFile {
		return "file|" + config.ResolvePath(dir, s.Path)
	}
	return "redis|" + s.Config.Key() + "|" + s.KeyPrefix
}

// Get returns the store configured by sc (relative paths anchored at dir),
// opening it if this process has not yet. lazy returns a store that opens
// on first use.
func (k *Stores) Get(ctx context.Context, dir string, sc StoreConfig, lazy bool) (Store, error) {
	key := storeKey(dir, sc)
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.stores[key]; ok {
		return s, nil
	}
	log := k.log
	open := func(ctx context.Context) (Store, error) { return openStore(ctx, dir, sc, log) }
	var s Store
	if lazy {
		s = &lazyStore{open: open}
	} else {
		var err error
		if s, err = open(ctx); err != nil {
			return nil, err
		}
	}
	k.stores[key] = s
	return s, nil
}

// Close closes every store.
func (k *Stores) Close() error {
	if k == nil {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	for key, s := range k.stores {
		errs = append(errs, s.Close())
		delete(k.stores, key)
	}
	return errors.Join(errs...)
}

// OpenStore opens the store sc configures (relative paths and file:
// secrets anchored at dir).
func OpenStore(ctx context.Context, dir string, sc StoreConfig) (Store, error) {
	return openStore(ctx, dir, sc, nil)
}

func openStore(ctx context.Context, dir string, sc StoreConfig, log hclog.Logger) (Store, error) {
	if sc.Type == StoreFile {
		return OpenFile(config.ResolvePath(dir, sc.Path), nil)
	}
	rc := RedisConfig{Conn: sc.Config, Dir: dir, KeyPrefix: sc.KeyPrefix, Log: log}
	return OpenRedis(ctx, rc, nil)
}

// Ping reports whether s can be reached now: a Redis store answers PING
// (opening a lazy store first); a file store always can.
func Ping(ctx context.Context, s Store) error {
	if l, ok := s.(*lazyStore); ok {
		var err error
		if s, err = l.get(ctx); err != nil {
			return err
		}
	}
	if p, ok := s.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx)
	}
	return nil
}

// lazyStore opens its store on first use (retrying after a failure).
type lazyStore struct {
	open func(context.Context) (Store, error)
	mu   sync.Mutex
	s    Store
}

func (l *lazyStore) get(ctx context.Context) (Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.s == nil {
		s, err := l.open(ctx)
		if err != nil {
			return nil, err
		}
		l.s = s
	}
	return l.s, nil
}

func (l *lazyStore) Save(ctx context.Context, k Key, rec Record) error {
	s, err := l.get(ctx)
	if err != nil {
		return err
	}
	return s.Save(ctx, k, rec)
}

func (l *lazyStore) Lookup(ctx context.Context, k Key) (Record, error) {
	s, err := l.get(ctx)
	if err != nil {
		return Record{}, err
	}
	return s.Lookup(ctx, k)
}

func (l *lazyStore) Revoke(ctx context.Context, k Key) error {
	s, err := l.get(ctx)
	if err != nil {
		return err
	}
	return s.Revoke(ctx, k)
}

func (l *lazyStore) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.s == nil {
		return nil
	}
	return l.s.Close()
}
