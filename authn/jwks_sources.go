package authn

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/internal/config"
)

// KeySources holds the remote key sources (JWKS) of every live generation,
// keyed by everything that makes two of them differ (the issuer's remote
// config and the contents of its CA files). A reload that leaves an issuer
// unchanged so keeps its source — its keys, its refresh schedule, its
// rate limits — instead of refetching every JWKS. Sources are reference
// counted: the last generation using one closes it (stops its refresher)
// when the generation is closed.
type KeySources struct {
	log hclog.Logger
	mu  sync.Mutex
	m   map[string]*keySourceRef
}

type keySourceRef struct {
	key  string
	src  *RemoteJWKS
	refs int
}

// NewKeySources returns an empty holder logging to log (none when nil).
func NewKeySources(log hclog.Logger) *KeySources {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &KeySources{log: log, m: map[string]*keySourceRef{}}
}

// Acquire returns the started source for is, shared with other generations
// when its config is unchanged; release gives the reference back. created
// reports a source this call built (whose first fetch is under way). dir
// anchors the issuer's relative ca_files.
func (k *KeySources) Acquire(dir string, is *IssuerConfig) (src *RemoteJWKS, release io.Closer, created bool, err error) {
	rc := is.RemoteJWKSConfig()
	var pems [][]byte
	for _, f := range is.CAFiles {
		b, err := os.ReadFile(config.ResolvePath(dir, f))
		if err != nil {
			return nil, nil, false, fmt.Errorf("ca_files: %w", err)
		}
		pems = append(pems, b)
	}
	if len(pems) > 0 {
		pool := x509.NewCertPool()
		for i, b := range pems {
			if !pool.AppendCertsFromPEM(b) {
				return nil, nil, false, fmt.Errorf("ca_files: %s holds no PEM certificate", is.CAFiles[i])
			}
		}
		rc.RootCAs = pool
	}
	key := sourceKey(rc, pems)

	k.mu.Lock()
	defer k.mu.Unlock()
	ref := k.m[key]
	if ref == nil {
		rc.Logger = k.log.Named("jwks").With("issuer", is.Name)
		s, err := NewRemoteJWKS(rc)
		if err != nil {
			return nil, nil, false, err
		}
		s.Start()
		ref = &keySourceRef{key: key, src: s}
		k.m[key] = ref
		created = true
	}
	ref.refs++
	return ref.src, &sourceRelease{k: k, ref: ref}, created, nil
}

// sourceKey identifies a remote source by its config and CA contents.
func sourceKey(rc RemoteJWKSConfig, pems [][]byte) string {
	h := sha256.New()
	_ = json.NewEncoder(h).Encode([]any{rc.Name, rc.Issuer, rc.JWKSURL, rc.DiscoveryURL, rc.AllowInsecureHTTP,
		rc.RefreshInterval, rc.MinRefresh, rc.MaxRefresh, rc.StaleWindow})
	for _, p := range pems {
		s := sha256.Sum256(p)
		h.Write(s[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

type sourceRelease struct {
	k    *KeySources
	ref  *keySourceRef
	once sync.Once
}

// Close gives the reference back; the last one closes the source.
func (r *sourceRelease) Close() error {
	var last bool
	r.once.Do(func() {
		r.k.mu.Lock()
		r.ref.refs--
		if last = r.ref.refs == 0; last {
			delete(r.k.m, r.ref.key)
		}
		r.k.mu.Unlock()
	})
	if last {
		return r.ref.src.Close()
	}
	return nil
}

// WaitSources waits for the first fetch of sources just created, all at
// once and for at most one fetch timeout (plus a margin): a gateway starts
// with the keys it can get, and an issuer that cannot be fetched fails
// closed for its own tokens (503) while the others serve. /readyz lists it.
func WaitSources(ctx context.Context, log hclog.Logger, sources []*RemoteJWKS) {
	if len(sources) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultJWKSFetchTimeout+time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !s.WaitReady(ctx) {
				log.Warn("issuer keys unavailable; its tokens fail closed (503) until a fetch succeeds",
					"issuer", s.Name(), "error", s.Status().LastError)
			}
		}()
	}
	wg.Wait()
}

// Len is the number of live sources (for tests).
func (k *KeySources) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}
