package authn

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// StaticAPIKeys are API keys for systems that cannot rotate, listed in
// bundle data (data.gatehouse.static_api_keys) by the SHA-256 of the key: the
// plaintext is never stored, in data or in memory. It is immutable; a data
// reload builds a new one.
//
// A presented key is hashed once (the authenticator needs the digest for its
// cache anyway), the digest looked up in a map, and the stored digest then
// compared with subtle.ConstantTimeCompare. The lookup's timing can only
// depend on the digest of the caller's own input, which tells nothing about
// stored keys (finding a key from it needs a SHA-256 preimage), so no
// per-entry scan is needed and the cost stays O(1) in the number of keys.
type StaticAPIKeys struct {
	byDigest map[CacheKey]*staticAPIKey
}

// StaticAPIKey is one entry of data.gatehouse.static_api_keys, keyed there by
// its id (the identity's token_id, so revocations.jti[id] revokes it).
type StaticAPIKey struct {
	ID          string
	SHA256      string // lowercase hex of SHA-256(key)
	Subject     string // default: the id
	Application string
	Plan        string
	Scopes      []string
	APIs        []APIRef
}

type staticAPIKey struct {
	digest CacheKey
	entry  StaticAPIKey
	// ids (idsSub with subscription validation) hold one prebuilt identity
	// per scheme name (string → *Identity), so a request builds no identity
	// (and so no policy value) for a known key; reads take no lock.
	ids, idsSub sync.Map
}

// StaticAPIKeySource is the Identity.Source of static keys.
const StaticAPIKeySource = "static_api_keys"

// NewStaticAPIKeys checks entries and indexes them by digest. Two entries
// with the same digest are an error.
func NewStaticAPIKeys(entries []StaticAPIKey) (*StaticAPIKeys, error) {
	s := &StaticAPIKeys{byDigest: make(map[CacheKey]*staticAPIKey, len(entries))}
	seen := map[string]bool{}
	for _, e := range entries {
		if e.ID == "" {
			return nil, errors.New("static API key: empty id")
		}
		if seen[e.ID] {
			return nil, fmt.Errorf("static API key %q: id listed twice", e.ID)
		}
		seen[e.ID] = true
		raw, err := hex.DecodeString(strings.ToLower(e.SHA256))
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("static API key %q: sha256 must be 64 hex digits (the SHA-256 of the key)", e.ID)
		}
		var d CacheKey
		copy(d[:], raw)
		if other, dup := s.byDigest[d]; dup {
			return nil, fmt.Errorf("static API keys %q and %q have the same sha256", other.entry.ID, e.ID)
		}
		e.SHA256 = hex.EncodeToString(raw)
		if e.Subject == "" {
			e.Subject = e.ID
		}
		e.Scopes = SortedUnique(e.Scopes)
		s.byDigest[d] = &staticAPIKey{digest: d, entry: e}
	}
	return s, nil
}

// ParseStaticAPIKeys reads data.gatehouse.static_api_keys as decoded from
// bundle data (JSON values): id → {"sha256", "apis", "application"?,
// "subject"?, "plan"?, "scopes"?}. Unknown members are errors: a misspelt
// "apis" must not silently make a key unusable or broader. v nil means no
// static keys.
func ParseStaticAPIKeys(v any) (*StaticAPIKeys, error) {
	if v == nil {
		return NewStaticAPIKeys(nil)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("static_api_keys must be an object (id -> key)")
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids) // deterministic errors
	entries := make([]StaticAPIKey, 0, len(m))
	for _, id := range ids {
		e, err := parseStaticEntry(id, m[id])
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	return NewStaticAPIKeys(entries)
}

func parseStaticEntry(id string, v any) (StaticAPIKey, error) {
	e := StaticAPIKey{ID: id}
	m, ok := v.(map[string]any)
	if !ok {
		return e, fmt.Errorf("static API key %q: not an object", id)
	}
	str := func(name string, dst *string) error {
		if x, present := m[name]; present {
			if *dst, ok = x.(string); !ok {
				return fmt.Errorf("static API key %q: %s is not a string", id, name)
			}
		}
		return nil
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"sha256", &e.SHA256}, {"application", &e.Application}, {"subject", &e.Subject}, {"plan", &e.Plan}} {
		if err := str(f.name, f.dst); err != nil {
			return e, err
		}
	}
	if _, ok := m["apis"]; !ok {
		return e, fmt.Errorf("static API key %q: apis is required (use [{\"name\": \"*\"}] for every API)", id)
	}
	apis, err := ParseAPIRefs(m["apis"])
	if err != nil {
		return e, fmt.Errorf("static API key %q: apis: %w", id, err)
	}
	e.APIs = apis
	if sc, present := m["scopes"]; present {
		list, ok := sc.([]any)
		if !ok {
			return e, fmt.Errorf("static API key %q: scopes is not an array", id)
		}
		for _, x := range list {
			s, ok := x.(string)
			if !ok {
				return e, fmt.Errorf("static API key %q: scopes holds a non-string", id)
			}
			e.Scopes = append(e.Scopes, s)
		}
	}
	for k := range m {
		switch k {
		case "sha256", "application", "subject", "plan", "apis", "scopes":
		default:
			return e, fmt.Errorf("static API key %q: unknown member %q", id, k)
		}
	}
	return e, nil
}

// Len is the number of static keys.
func (s *StaticAPIKeys) Len() int {
	if s == nil {
		return 0
	}
	return len(s.byDigest)
}

// lookup returns the identity of the key whose SHA-256 is digest, for the
// scheme, or nil.
func (s *StaticAPIKeys) lookup(digest CacheKey, scheme string, subVal bool) *Identity {
	k := s.byDigest[digest]
	if k == nil || subtle.ConstantTimeCompare(k.digest[:], digest[:]) != 1 {
		return nil
	}
	ids := &k.ids
	if subVal {
		ids = &k.idsSub
	}
	if id, ok := ids.Load(scheme); ok {
		return id.(*Identity)
	}
	e := k.entry
	id := &Identity{
		Scheme:       scheme,
		Type:         TypeAPIKey,
		Subject:      e.Subject,
		Source:       StaticAPIKeySource,
		Application:  e.Application,
		ClientID:     e.Application,
		Plan:         e.Plan,
		Scopes:       e.Scopes,
		TokenID:      e.ID,
		CredentialID: hex.EncodeToString(digest[:6]),
		APIs:         e.APIs,

		SubscriptionValidation: subVal,
	}
	if id.Scopes == nil {
		id.Scopes = []string{}
	}
	actual, _ := ids.LoadOrStore(scheme, id)
	return actual.(*Identity)
}

// HashAPIKey returns the lowercase hex SHA-256 of a key: what
// data.gatehouse.static_api_keys lists (`gatehouse apikey hash`).
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
