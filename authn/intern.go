package authn

import "sync"

// Strings that repeat across the identities of one issuer (its iss, client
// ids, applications, audiences, scope lists) are kept once: each decoded
// token otherwise brings its own copy, and a cached credential kept ~140
// bytes of them (gateway BenchmarkMemory). Bounded like the term table
// (identity.go): past maxInterned distinct values (an issuer minting
// endless client ids or scope sets) a new value is simply kept as it is.
// Interned lists are shared by identities, which never modify them.

var internedStrings = struct {
	sync.RWMutex
	m map[string]string
}{m: map[string]string{}}

var internedLists = struct {
	sync.RWMutex
	m map[string][]string
}{m: map[string][]string{}}

// internString returns the kept copy of s.
func internString(s string) string {
	if s == "" {
		return s
	}
	internedStrings.RLock()
	v, ok := internedStrings.m[s]
	internedStrings.RUnlock()
	if ok {
		return v
	}
	internedStrings.Lock()
	defer internedStrings.Unlock()
	if v, ok := internedStrings.m[s]; ok {
		return v
	}
	if len(internedStrings.m) < maxInterned {
		internedStrings.m[s] = s
	}
	return s
}

// maxListKey bounds the lists that are interned: the key is built in a
// stack buffer of this size.
const maxListKey = 512

// internList returns the kept copy of the list s (sorted scopes or
// audiences), its elements interned too. Empty and over-long lists are
// returned as they are.
func internList(s []string) []string {
	if len(s) == 0 {
		return s
	}
	var buf [maxListKey]byte
	key := buf[:0]
	for _, v := range s {
		if len(key)+len(v)+1 > maxListKey {
			return s
		}
		key = append(key, v...)
		key = append(key, 0)
	}
	internedLists.RLock()
	v, ok := internedLists.m[string(key)]
	internedLists.RUnlock()
	if ok {
		return v
	}
	internedLists.Lock()
	defer internedLists.Unlock()
	if v, ok := internedLists.m[string(key)]; ok {
		return v
	}
	if len(internedLists.m) >= maxInterned {
		return s
	}
	kept := make([]string, len(s))
	for i, e := range s {
		kept[i] = internString(e)
	}
	internedLists.m[string(key)] = kept
	return kept
}
