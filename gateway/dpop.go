package gateway

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/authn/dpop"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// dpopReplays holds the process's DPoP replay caches, by settings: a
// reload keeps them (a proof used before a reload stays used), and a
// Server closes the Redis clients at shutdown.
type dpopReplays struct {
	mu     sync.Mutex
	caches map[string]dpop.Replay
	// redis are the Redis clients by cache key: closed by Close, pinged
	// by /readyz (client).
	redis map[string]redis.UniversalClient
	// nonceKey is the process's random nonce key (no nonce_secret).
	nonceKey []byte
}

func newDPoPReplays() *dpopReplays {
	return &dpopReplays{caches: map[string]dpop.Replay{}, redis: map[string]redis.UniversalClient{}}
}

// cacheKey names the replay cache cfg asks for: a reload with the same
// dpop.redis settings keeps the cache and its client.
func cacheKey(cfg *config.Config) string {
	if r := cfg.DPoP.RedisConfig(); r != nil {
		return "redis|" + r.Key() + "|" + r.KeyPrefix
	}
	return "memory"
}

// client returns the Redis client of cfg's replay cache (nil: in memory
// or not built yet).
func (p *dpopReplays) client(cfg *config.Config) redis.UniversalClient {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.redis[cacheKey(cfg)]
}

// get returns the replay cache for d (nil: in memory).
func (p *dpopReplays) get(cfg *config.Config) (dpop.Replay, error) {
	key := cacheKey(cfg)
	r := cfg.DPoP.RedisConfig()
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.caches[key]; ok {
		return c, nil
	}
	var c dpop.Replay
	if r == nil {
		c = dpop.NewMemory(0, nil)
	} else {
		timeout := r.Timeout.D()
		if timeout <= 0 {
			timeout = 500 * time.Millisecond
		}
		// The same universal client settings as the rate limits and the
		// token store: one node, Sentinel or Cluster, ca_files and client
		// certificates.
		opts, err := r.Options(cfg.Dir, timeout)
		if err != nil {
			return nil, fmt.Errorf("dpop.redis: %w", err)
		}
		opts.MaxRetries = 1
		client := redis.NewUniversalClient(opts)
		p.redis[key] = client
		c = dpop.NewRedis(client, r.KeyPrefix)
	}
	p.caches[key] = c
	return c, nil
}

// nonces returns the nonce issuer of cfg: keyed by nonce_secret (hashed to
// 32 bytes), else by the process's random key.
func (p *dpopReplays) nonces(cfg *config.Config) (*dpop.Nonces, error) {
	d := cfg.DPoP
	if d == nil || !d.Nonce {
		return nil, nil
	}
	if d.NonceSecret != "" {
		s, err := d.NonceSecret.Resolve(cfg.Dir)
		if err != nil {
			return nil, fmt.Errorf("dpop.nonce_secret: %w", err)
		}
		if len(s.Reveal()) < 32 {
			return nil, fmt.Errorf("dpop.nonce_secret: at least 32 bytes are needed")
		}
		sum := sha256.Sum256([]byte(s.Reveal()))
		return dpop.NewNonces(sum[:], 0, nil)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nonceKey == nil {
		n, err := dpop.NewNonces(nil, 0, nil)
		if err != nil {
			return nil, err
		}
		p.nonceKey = n.Key()
	}
	return dpop.NewNonces(p.nonceKey, 0, nil)
}

// Close closes the Redis clients.
func (p *dpopReplays) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.redis {
		_ = c.Close()
	}
	p.caches, p.redis = map[string]dpop.Replay{}, map[string]redis.UniversalClient{}
	return nil
}

// verifier builds the generation's proof verifier, once, on first use by
// a scheme with dpop on.
func (f *authnFactory) dpopVerifier() (*dpop.Verifier, error) {
	if f.dpop != nil {
		return f.dpop, nil
	}
	if f.dpopReplays == nil {
		f.dpopReplays = newDPoPReplays()
		f.closers = append(f.closers, f.dpopReplays)
	}
	replay, err := f.dpopReplays.get(f.cfg)
	if err != nil {
		return nil, err
	}
	nonces, err := f.dpopReplays.nonces(f.cfg)
	if err != nil {
		return nil, err
	}
	var dc config.DPoPConfig
	if f.cfg.DPoP != nil {
		dc = *f.cfg.DPoP
	}
	v, err := dpop.New(dpop.Config{Algorithms: dc.Algorithms, MaxAge: dc.MaxAge.D(), Replay: replay, Nonces: nonces})
	if err != nil {
		return nil, err
	}
	f.dpop = v
	return v, nil
}
