package keymanager

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileStore is the embedded token store: one bbolt file, so issued tokens
// and revocations survive a restart. bbolt locks the file: one gateway
// process at a time (several replicas share Redis instead).
//
// Two buckets: tokens (Key → record) and expiry (big-endian expiry ‖ Key →
// nothing), so expired records are swept by a range scan, not a full one.
type FileStore struct {
	db   *bolt.DB
	now  func() time.Time
	stop chan struct{}
	done sync.WaitGroup
	once sync.Once
}

var (
	bucketTokens = []byte("tokens")
	bucketExpiry = []byte("expiry")
)

// SweepInterval is how often a FileStore deletes expired records.
const SweepInterval = 10 * time.Minute

// FileOpenTimeout bounds the wait for the file lock (another process
// holding the store).
const FileOpenTimeout = 2 * time.Second

var _ Store = (*FileStore)(nil)

// OpenFile opens (creating it 0600 if needed) the store at path. now is the
// clock (time.Now when nil).
func OpenFile(path string, now func() time.Time) (*FileStore, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: FileOpenTimeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s is locked by another process (a running gateway?)", ErrStore, path)
		}
		return nil, fmt.Errorf("%w: open %s: %w", ErrStore, path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketTokens, bucketExpiry} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrStore, path, err)
	}
	s := &FileStore{db: db, now: now, stop: make(chan struct{})}
	_ = s.Sweep()
	s.done.Add(1)
	go s.sweeper()
	return s, nil
}

func expiryKey(exp time.Time, k Key) []byte {
	b := make([]byte, 8+len(k))
	binary.BigEndian.PutUint64(b, uint64(exp.UnixNano()))
	copy(b[8:], k[:])
	return b
}

// Save stores rec under k.
func (s *FileStore) Save(_ context.Context, k Key, rec Record) error {
	v, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	err = s.db.Batch(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketTokens).Put(k[:], v); err != nil {
			return err
		}
		return tx.Bucket(bucketExpiry).Put(expiryKey(rec.ExpiresAt, k), nil)
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// Lookup returns the live record under k.
func (s *FileStore) Lookup(_ context.Context, k Key) (Record, error) {
	var v []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketTokens).Get(k[:]); b != nil {
			v = append([]byte(nil), b...) // valid only inside the transaction
		}
		return nil
	})
	if err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrStore, err)
	}
	if v == nil {
		return Record{}, ErrNotFound
	}
	return liveRecord(v, s.now())
}

// Revoke removes the record under k.
func (s *FileStore) Revoke(_ context.Context, k Key) error {
	err := s.db.Batch(func(tx *bolt.Tx) error {
		tokens := tx.Bucket(bucketTokens)
		v := tokens.Get(k[:])
		if v == nil {
			return nil
		}
		if rec, err := decodeRecord(v); err == nil {
			_ = tx.Bucket(bucketExpiry).Delete(expiryKey(rec.ExpiresAt, k))
		}
		return tokens.Delete(k[:])
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// Sweep deletes every expired record.
func (s *FileStore) Sweep() error {
	now := uint64(s.now().UnixNano())
	return s.db.Update(func(tx *bolt.Tx) error {
		tokens, expiry := tx.Bucket(bucketTokens), tx.Bucket(bucketExpiry)
		c := expiry.Cursor()
		var dead [][]byte
		for ek, _ := c.First(); ek != nil && len(ek) == 8+len(Key{}) && binary.BigEndian.Uint64(ek) <= now; ek, _ = c.Next() {
			dead = append(dead, append([]byte(nil), ek...))
		}
		for _, ek := range dead {
			if err := tokens.Delete(ek[8:]); err != nil {
				return err
			}
			if err := expiry.Delete(ek); err != nil {
				return err
			}
		}
		return nil
	})
}

// Len is the number of records (expired ones not yet swept included).
func (s *FileStore) Len() int {
	n := 0
	_ = s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketTokens).Stats().KeyN
		return nil
	})
	return n
}

func (s *FileStore) sweeper() {
	defer s.done.Done()
	t := time.NewTicker(SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_ = s.Sweep()
		}
	}
}

// Close stops the sweeper and closes the file (releasing its lock).
func (s *FileStore) Close() error {
	var err error
	s.once.Do(func() {
		close(s.stop)
		s.done.Wait()
		err = s.db.Close()
	})
	return err
}
