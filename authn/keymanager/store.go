package keymanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound: the store holds no live record under the key (never issued,
// expired or revoked — the same to a caller).
var ErrNotFound = errors.New("keymanager: token not found")

// ErrStore wraps every failure of a store (I/O, Redis unreachable): the
// gateway fails closed (503).
var ErrStore = errors.New("keymanager: token store unavailable")

// Key is what a token is stored under: the SHA-256 of the token. The token
// itself is never stored.
type Key [32]byte

// Record is what the store knows about an issued token.
type Record struct {
	ClientID    string    `json:"cid"`
	Application string    `json:"app"`
	Scopes      []string  `json:"scp,omitempty"`
	TokenID     string    `json:"jti"`
	IssuedAt    time.Time `json:"iat"`
	ExpiresAt   time.Time `json:"exp"`
}

// Store keeps issued tokens, by Key, until they expire or are revoked.
// Implementations: the embedded file store (OpenFile, one gateway process)
// and Redis (OpenRedis, several replicas sharing tokens and revocations).
type Store interface {
	// Save stores rec under k until rec.ExpiresAt.
	Save(ctx context.Context, k Key, rec Record) error
	// Lookup returns the live record under k, or ErrNotFound.
	Lookup(ctx context.Context, k Key) (Record, error)
	// Revoke removes the record under k; revoking an unknown key is not an
	// error (RFC 7009 §2.2).
	Revoke(ctx context.Context, k Key) error
	Close() error
}

func encodeRecord(rec Record) ([]byte, error) {
	return json.Marshal(rec)
}

// liveRecord decodes a stored record: ErrNotFound once it has expired at now
// (a store may still hold it until its sweep or TTL).
func liveRecord(b []byte, now time.Time) (Record, error) {
	rec, err := decodeRecord(b)
	if err != nil {
		return Record{}, err
	}
	if !now.Before(rec.ExpiresAt) {
		return Record{}, ErrNotFound
	}
	return rec, nil
}

func decodeRecord(b []byte) (Record, error) {
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return Record{}, fmt.Errorf("%w: corrupt record: %w", ErrStore, err)
	}
	return rec, nil
}
