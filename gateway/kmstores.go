package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/gatehouse/gatehouse/authn/keymanager"
)

// kmStores holds the internal key manager's token stores for a whole
// process: a store outlives configuration generations (a bbolt file can be
// opened once per process; a Redis pool is reused), so a reload with the
// same store settings keeps the same store. A Server closes them at
// shutdown.
type kmStores struct {
	mu     sync.Mutex
	stores map[string]keymanager.Store
}

func newKMStores() *kmStores { return &kmStores{stores: map[string]keymanager.Store{}} }

// storeKey identifies a store's settings (secrets resolved at open are not
// part of it: a changed password needs a restart).
func storeKey(cfg *Config, s TokenStoreConfig) string {
	if s.Type == StoreFile {
		return "file|" + cfg.File(s.Path)
	}
	return "redis|" + s.Address + "|" + strconv.Itoa(s.DB) + "|" + s.Username + "|" + s.KeyPrefix + "|" + strconv.FormatBool(s.TLS)
}

// get returns the store of cfg's internal key manager, opening it if this
// process has not yet. lazy returns a store that opens on first use.
func (k *kmStores) get(ctx context.Context, cfg *Config, lazy bool) (keymanager.Store, error) {
	sc := cfg.InternalKeyManager.Store
	key := storeKey(cfg, sc)
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.stores[key]; ok {
		return s, nil
	}
	open := func(ctx context.Context) (keymanager.Store, error) { return openStore(ctx, cfg, sc) }
	var s keymanager.Store
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
func (k *kmStores) Close() error {
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

func openStore(ctx context.Context, cfg *Config, sc TokenStoreConfig) (keymanager.Store, error) {
	if sc.Type == StoreFile {
		return keymanager.OpenFile(cfg.File(sc.Path), nil)
	}
	rc := keymanager.RedisConfig{Addr: sc.Address, Username: sc.Username, DB: sc.DB, KeyPrefix: sc.KeyPrefix}
	if sc.Password != "" {
		pw, err := sc.Password.Resolve(cfg.Dir)
		if err != nil {
			return nil, fmt.Errorf("password: %w", err)
		}
		rc.Password = pw.Reveal()
	}
	if sc.TLS {
		rc.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if len(sc.CAFiles) > 0 {
			pool, err := loadCAPool(cfg, sc.CAFiles)
			if err != nil {
				return nil, fmt.Errorf("ca_files: %w", err)
			}
			rc.TLS.RootCAs = pool
		}
	}
	return keymanager.OpenRedis(ctx, rc, nil)
}

// lazyStore opens its store on first use (retrying after a failure).
type lazyStore struct {
	open func(context.Context) (keymanager.Store, error)
	mu   sync.Mutex
	s    keymanager.Store
}

func (l *lazyStore) get(ctx context.Context) (keymanager.Store, error) {
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

func (l *lazyStore) Save(ctx context.Context, k keymanager.Key, rec keymanager.Record) error {
	s, err := l.get(ctx)
	if err != nil {
		return err
	}
	return s.Save(ctx, k, rec)
}

func (l *lazyStore) Lookup(ctx context.Context, k keymanager.Key) (keymanager.Record, error) {
	s, err := l.get(ctx)
	if err != nil {
		return keymanager.Record{}, err
	}
	return s.Lookup(ctx, k)
}

func (l *lazyStore) Revoke(ctx context.Context, k keymanager.Key) error {
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
