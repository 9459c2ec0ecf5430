package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/authn"
)

// keySources holds the remote key sources (JWKS) of every live generation,
// keyed by everything that makes two of them differ (the issuer's remote
// config and the contents of its CA files). A reload that leaves an issuer
// unchanged so keeps its source — its keys, its refresh schedule, its
// rate limits — instead of refetching every JWKS. Sources are reference
// counted: the last generation using one closes it (stops its refresher)
// when the generation is closed.
type keySources struct {
	log hclog.Logger
	mu  sync.Mutex
	m   map[string]*keySourceRef
}

type keySourceRef struct {
	key  string
	src  *authn.RemoteJWKS
	refs int
}

func newKeySources(log hclog.Logger) *keySources {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &keySources{log: log, m: map[string]*keySourceRef{}}
}

// acquire returns the started source for is, shared with other generations
// when its config is unchanged; release gives the reference back. created
// reports a source this call built (whose first fetch is under way).
func (k *keySources) acquire(cfg *Config, is *authn.IssuerConfig) (src *authn.RemoteJWKS, release io.Closer, created bool, err error) {
	rc := is.RemoteJWKSConfig()
	var pems [][]byte
	for _, f := range is.CAFiles {
		b, err := os.ReadFile(cfg.File(f))
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
		rc.Logger = k.log.Named("authn.jwks").With("issuer", is.Name)
		s, err := authn.NewRemoteJWKS(rc)
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
func sourceKey(rc authn.RemoteJWKSConfig, pems [][]byte) string {
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
	k    *keySources
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

// waitSources waits for the first fetch of sources just created, all at
// once and for at most one fetch timeout (plus a margin): a gateway starts
// with the keys it can get, and an issuer that cannot be fetched fails
// closed for its own tokens (503) while the others serve. /readyz lists it.
func waitSources(ctx context.Context, log hclog.Logger, sources []*authn.RemoteJWKS) {
	if len(sources) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, authn.DefaultJWKSFetchTimeout+time.Second)
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

// jwksStatus reports the generation's remote key sources, sorted by issuer,
// and the names of those without a usable key set.
func (g *Generation) jwksStatus() (all []authn.JWKSStatus, unavailable []string) {
	for _, s := range g.jwks {
		st := s.Status()
		all = append(all, st)
		if !st.Available {
			unavailable = append(unavailable, st.Issuer)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Issuer < all[j].Issuer })
	sort.Strings(unavailable)
	return all, unavailable
}

// addIssuerStatus adds the remote issuers to a /readyz body. An issuer
// without keys makes the status "degraded", not "not_ready": the other
// issuers, and every other scheme, keep serving (one issuer's outage never
// takes the gateway out of a load balancer).
func addIssuerStatus(body map[string]any, g *Generation) {
	all, unavailable := g.jwksStatus()
	if len(all) == 0 {
		return
	}
	body["issuers"] = all
	if len(unavailable) > 0 {
		body["unavailable_issuers"] = unavailable
		body["status"] = "degraded"
	}
}

var errNoIssuers = errors.New("has no issuers and no key managers: list issuers in schemes.<name>.issuers or in x-gatehouse-issuers on the securityScheme, or key managers in schemes.<name>.key_managers")
