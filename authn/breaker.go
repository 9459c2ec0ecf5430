package authn

import (
	"errors"
	"sync"
	"time"
)

// Circuit breaker defaults: open after 5 consecutive failures,
// try again (half-open) after 10 s.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 10 * time.Second
)

// ErrBreakerOpen is wrapped (with ErrKeyManagerUnavailable) by calls refused
// because a key manager failed too often in a row.
var ErrBreakerOpen = errors.New("circuit breaker open")

// breaker stops calls to a failing dependency: after threshold consecutive
// failures it opens for cooldown; then one trial call is let through
// (half-open) — its success closes the breaker, its failure opens it for
// another cooldown. While open (and while the trial runs) calls fail fast.
type breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time

	mu        sync.Mutex
	failures  int
	openUntil time.Time // zero: closed
	trial     bool      // a half-open trial call is running
}

func newBreaker(threshold int, cooldown time.Duration, now func() time.Time) *breaker {
	if threshold <= 0 {
		threshold = DefaultBreakerFailures
	}
	if cooldown <= 0 {
		cooldown = DefaultBreakerCooldown
	}
	return &breaker{threshold: threshold, cooldown: cooldown, now: now}
}

// allow reports whether a call may go out now. A true answer must be
// followed by exactly one done.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil.IsZero() {
		return true
	}
	if b.trial || b.now().Before(b.openUntil) {
		return false
	}
	b.trial = true
	return true
}

// done records the outcome of an allowed call.
func (b *breaker) done(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
	if ok {
		b.failures, b.openUntil = 0, time.Time{}
		return
	}
	b.failures++
	if !b.openUntil.IsZero() || b.failures >= b.threshold {
		b.openUntil = b.now().Add(b.cooldown)
	}
}

// open reports whether the breaker refuses calls now (for metrics).
func (b *breaker) open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openUntil.IsZero() && (b.trial || b.now().Before(b.openUntil))
}
