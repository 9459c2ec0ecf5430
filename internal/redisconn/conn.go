package redisconn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
)

// Conn is a universal client that knows whether Redis is reachable. Its
// users report each failed command; the first one that means Redis is
// unavailable marks the Conn down, and from then on users skip Redis (and
// pay no timeout per request) while one goroutine probes with a fresh
// client every ProbeInterval. The first probe that Redis answers becomes
// the client and the Conn is up again.
//
// A fresh client, rather than the one that failed, because go-redis's
// connection pool stops dialing after a run of dial errors and retries only
// once a second: the old client can keep failing for up to a second after
// Redis is back, while the fresh one works at once.
type Conn struct {
	opts    redis.UniversalOptions
	every   time.Duration
	timeout time.Duration
	log     hclog.Logger

	cur  atomic.Pointer[client]
	down atomic.Bool

	mu       sync.Mutex
	probing  bool
	closed   bool
	stop     chan struct{}
	wg       sync.WaitGroup
	downAt   time.Time
	lastWarn time.Time
}

type client struct{ redis.UniversalClient }

// Settings tune a Conn.
type Settings struct {
	// Timeout bounds dialing and each command (and each probe).
	Timeout time.Duration
	// MaxRetries: go-redis retries of a failed command (-1: none).
	MaxRetries int
	// ProbeInterval is how often an unavailable Redis is tried again
	// (default 50ms).
	ProbeInterval time.Duration
	// Log gets one line when Redis becomes unavailable and one when it
	// answers again.
	Log hclog.Logger
}

// DefaultProbeInterval is how often a Conn that is down tries Redis.
const DefaultProbeInterval = 50 * time.Millisecond

// Open builds the client (secrets and files relative to dir). It does not
// dial: a Redis that is down at start is found by the first command.
func Open(cfg *Config, dir string, s Settings) (*Conn, error) {
	o, err := cfg.Options(dir, s.Timeout)
	if err != nil {
		return nil, err
	}
	o.MaxRetries = s.MaxRetries
	if s.ProbeInterval <= 0 {
		s.ProbeInterval = DefaultProbeInterval
	}
	if s.Log == nil {
		s.Log = hclog.NewNullLogger()
	}
	c := &Conn{opts: *o, every: s.ProbeInterval, timeout: s.Timeout, log: s.Log, stop: make(chan struct{})}
	c.cur.Store(c.newClient())
	return c, nil
}

func (c *Conn) newClient() *client {
	o := c.opts // NewUniversalClient may fill defaults in its argument
	o.Addrs = append([]string(nil), c.opts.Addrs...)
	return &client{redis.NewUniversalClient(&o)}
}

// Client is the current client; pass it back to Report with its error.
func (c *Conn) Client() redis.UniversalClient { return c.cur.Load().UniversalClient }

// Up reports whether Redis answered the last command or probe.
func (c *Conn) Up() bool { return !c.down.Load() }

// Unavailable reports whether err means Redis could not serve a command
// (network, timeout, a node loading or without a primary), as opposed to
// an answer (redis.Nil, a script or type error).
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, p := range []string{"LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY", "NOREPLICAS"} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	return true
}

// Report takes the error of a command sent with cl (from Client): one that
// means Redis is unavailable marks the Conn down and starts probing, and
// Report returns true. Errors of a client already replaced are ignored (it
// was closed under the command).
func (c *Conn) Report(cl redis.UniversalClient, err error) bool {
	if !Unavailable(err) {
		return false
	}
	if cur := c.cur.Load(); cur == nil || cur.UniversalClient != cl {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.probing {
		return true
	}
	c.probing = true
	c.down.Store(true)
	c.downAt = time.Now()
	if time.Since(c.lastWarn) > 10*time.Second {
		c.lastWarn = time.Now()
		c.log.Warn("redis unavailable; probing until it answers", "error", err.Error(), "probe_interval", c.every.String())
	}
	c.wg.Add(1)
	go c.probe()
	return true
}

func (c *Conn) probe() {
	defer c.wg.Done()
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		fresh := c.newClient()
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		err := fresh.Ping(ctx).Err()
		cancel()
		if err != nil {
			_ = fresh.Close()
			continue
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			_ = fresh.Close()
			return
		}
		old := c.cur.Swap(fresh)
		c.down.Store(false)
		c.probing = false
		outage := time.Since(c.downAt)
		c.mu.Unlock()
		_ = old.Close()
		c.log.Info("redis answers again", "unavailable_for", outage.Round(time.Millisecond).String())
		return
	}
}

// Close stops probing and closes the client.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.stop)
	c.mu.Unlock()
	c.wg.Wait()
	return c.cur.Load().Close()
}

// RouteLogs sends go-redis's own log lines (dial failures, Sentinel and
// Cluster notices), which it otherwise prints as plain text on stderr, to
// log as structured records (warnings when they report a failure). It is
// process-wide (go-redis has one
// logger). A line repeated within a second is counted, not repeated: an
// outage makes go-redis log every failed dial.
func RouteLogs(log hclog.Logger) {
	redis.SetLogger(&logAdapter{log: log.Named("redis"), last: map[string]time.Time{}})
}

type logAdapter struct {
	log        hclog.Logger
	mu         sync.Mutex
	last       map[string]time.Time // by format
	suppressed int
}

func (a *logAdapter) Printf(_ context.Context, format string, v ...any) {
	a.mu.Lock()
	now := time.Now()
	if t, ok := a.last[format]; ok && now.Sub(t) < time.Second {
		a.suppressed++
		a.mu.Unlock()
		return
	}
	if len(a.last) > 1000 {
		clear(a.last)
	}
	a.last[format] = now
	n := a.suppressed
	a.suppressed = 0
	a.mu.Unlock()
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	level := hclog.Info // notices: a Sentinel naming the primary, a cluster reload
	for _, w := range []string{"fail", "error", "unable", "can't", "cannot", "invalid"} {
		if strings.Contains(strings.ToLower(msg), w) {
			level = hclog.Warn
			break
		}
	}
	if n > 0 {
		a.log.Log(level, msg, "repeated_lines_suppressed", n)
		return
	}
	a.log.Log(level, msg)
}
