package authn

import (
	"errors"
	"time"
)

// What a RemoteJWKS reports about itself: readiness, the /readyz body, the
// key set age gauge and logs. Kept apart from the fetching and rotation
// logic in jwks.go.

// Available reports whether a usable key set is there.
func (r *RemoteJWKS) Available() bool { return r.cur.Load().usable(r.now()) }

func (r *RemoteJWKS) lastError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastErr == nil {
		return errors.New("no key set fetched yet")
	}
	return r.lastErr
}

// JWKSStatus describes a RemoteJWKS for readiness, metrics and logs.
type JWKSStatus struct {
	Issuer      string    `json:"issuer"`
	URL         string    `json:"url,omitempty"` // the key set URL in use
	Available   bool      `json:"available"`
	Keys        []string  `json:"keys,omitempty"` // key ids (thumbprints for keys without kid)
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	NextRefresh time.Time `json:"next_refresh,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Fetches     uint64    `json:"fetches"`
	Failures    uint64    `json:"failures"`
}

// Status returns the source's current state.
func (r *RemoteJWKS) Status() JWKSStatus {
	s := JWKSStatus{Issuer: r.cfg.Name, Fetches: r.fetches.Load(), Failures: r.failed.Load()}
	if u := r.jwksURL.Load(); u != nil {
		s.URL = u.String()
	}
	if st := r.cur.Load(); st != nil {
		s.Available = st.usable(r.now())
		s.LastSuccess = st.fetchedAt
		for _, k := range st.keys.keys {
			s.Keys = append(s.Keys, cmpOr(k.ID, k.Thumbprint))
		}
	}
	r.mu.Lock()
	s.LastAttempt, s.NextRefresh = r.lastAttempt, r.nextRefresh
	if r.lastErr != nil {
		s.LastError = r.lastErr.Error()
	}
	r.mu.Unlock()
	return s
}

// Age is the time since the last successful fetch; false when there was none.
func (r *RemoteJWKS) Age() (time.Duration, bool) {
	st := r.cur.Load()
	if st == nil {
		return 0, false
	}
	return r.now().Sub(st.fetchedAt), true
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
