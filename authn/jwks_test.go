package authn_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

// remote returns a started-by-hand RemoteJWKS over srv (Refresh is called
// once; no background refresher, so fetch counts are exact).
func remote(t *testing.T, srv *authntest.Issuer, clock *testClock, edit func(*authn.RemoteJWKSConfig)) *authn.RemoteJWKS {
	t.Helper()
	cfg := authn.RemoteJWKSConfig{Name: "corp", Issuer: srv.Issuer(), JWKSURL: srv.JWKSURL(), Now: clock.Now, RootCAs: srv.CertPool()}
	if edit != nil {
		edit(&cfg)
	}
	r, err := authn.NewRemoteJWKS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// remoteJWT is a JWT authenticator trusting one remote issuer.
func remoteJWT(t *testing.T, srv *authntest.Issuer, src *authn.RemoteJWKS, clock *testClock, opts ...authn.Option) *authn.JWT {
	t.Helper()
	is := &authn.Issuer{Name: src.Name(), Issuer: srv.Issuer(), Audiences: []string{"petstore"}, Keys: src}
	j, err := authn.NewJWT("oauth", []*authn.Issuer{is}, append([]authn.Option{authn.WithClock(clock.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func claimsAt(srv *authntest.Issuer, clock *testClock) map[string]any {
	return authntest.Claims(srv.Issuer(), "petstore", clock.Now(), time.Hour)
}

// mintWith signs claims with s, optionally naming another kid.
func mintWith(t *testing.T, s *authntest.Signer, claims map[string]any, kid string) string {
	t.Helper()
	var opts []authntest.MintOption
	if kid != "" {
		opts = append(opts, authntest.WithHeader("kid", kid))
	}
	return mint(t, s, claims, opts...)
}

func wantReason(t *testing.T, err error, reason authn.Reason) {
	t.Helper()
	rej, ok := authn.AsRejection(err)
	if !ok || rej.Reason != reason {
		t.Fatalf("err = %v, want rejection %s", err, reason)
	}
}

func wantTechnical(t *testing.T, err error) {
	t.Helper()
	if _, isRej := authn.AsRejection(err); err == nil || isRej || errors.Is(err, authn.ErrNoCredentials) {
		t.Fatalf("err = %v, want a technical failure", err)
	}
	if !errors.Is(err, authn.ErrKeysUnavailable) {
		t.Fatalf("err = %v, want ErrKeysUnavailable", err)
	}
}

// Each algorithm family over a real loopback JWKS server, plain and TLS.
func TestRemoteJWKSAlgorithms(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []authntest.IssuerOption
	}{
		{name: "ok/RS256", opts: []authntest.IssuerOption{authntest.WithAlg("RS256")}},
		{name: "ok/ES256", opts: []authntest.IssuerOption{authntest.WithAlg("ES256")}},
		{name: "ok/EdDSA", opts: []authntest.IssuerOption{authntest.WithAlg("EdDSA")}},
		{name: "ok/PS256-over-TLS", opts: []authntest.IssuerOption{authntest.WithAlg("PS256"), authntest.WithTLS()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			srv := authntest.NewIssuer(t, tc.opts...)
			src := remote(t, srv, clock, nil)
			if err := src.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			j := remoteJWT(t, srv, src, clock)
			if _, err := j.Verify(context.Background(), mint(t, srv.Signer(), claimsAt(srv, clock))); err != nil {
				t.Fatal(err)
			}
			if n := srv.JWKSFetches(); n != 1 {
				t.Fatalf("fetches = %d", n)
			}
		})
	}
}

func TestRemoteJWKSUntrustedTLS(t *testing.T) {
	clock := newClock()
	srv := authntest.NewIssuer(t, authntest.WithTLS())
	src := remote(t, srv, clock, func(c *authn.RemoteJWKSConfig) { c.RootCAs = nil })
	if err := src.Refresh(context.Background()); err == nil {
		t.Fatal("fetched from a server whose certificate is not trusted")
	}
	if src.Available() {
		t.Fatal("available")
	}
}

// Rotation: a new kid is accepted after exactly one refetch; a removed kid
// (and every token cached under it) is rejected after the refresh that
// removes it.
func TestRemoteJWKSRotation(t *testing.T) {
	clock := newClock()
	srv := authntest.NewIssuer(t, authntest.WithAlg("ES256"))
	src := remote(t, srv, clock, nil)
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	j := remoteJWT(t, srv, src, clock)
	oldSigner := srv.Signer()
	oldTok := mint(t, oldSigner, claimsAt(srv, clock))
	if _, err := j.Verify(context.Background(), oldTok); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Verify(context.Background(), oldTok); err != nil {
		t.Fatal(err)
	}
	if hits, _ := j.CacheStats(); hits != 1 {
		t.Fatalf("hits = %d, want the second call cached", hits)
	}

	// New key published next to the old one; a token with the new kid
	// triggers one refetch.
	newSigner := authntest.Must(srv.Rotate("", true))
	newTok := mint(t, newSigner, claimsAt(srv, clock))
	if _, err := j.Verify(context.Background(), newTok); err != nil {
		t.Fatalf("new kid: %v", err)
	}
	if n := srv.JWKSFetches(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (one refetch)", n)
	}
	if _, err := j.Verify(context.Background(), oldTok); err != nil {
		t.Fatalf("old kid still published: %v", err)
	}

	// The old key is dropped; the next refresh removes it: the cached old
	// token stops validating, the new one keeps working.
	srv.SetSigners(newSigner)
	clock.Advance(authn.DefaultJWKSRefresh)
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := j.Verify(context.Background(), oldTok)
	wantReason(t, err, authn.ReasonUnknownKey)
	if _, err := j.Verify(context.Background(), newTok); err != nil {
		t.Fatalf("new kid after refresh: %v", err)
	}
	st := src.Status()
	if len(st.Keys) != 1 || st.Keys[0] != newSigner.KID() || !st.Available {
		t.Fatalf("status = %+v", st)
	}
}

// A refresh that returns the same keys keeps the cache valid (no burst of
// re-verification at every refresh).
func TestRemoteJWKSUnchangedRefreshKeepsCache(t *testing.T) {
	clock := newClock()
	srv := authntest.NewIssuer(t, authntest.WithAlg("EdDSA"))
	src := remote(t, srv, clock, nil)
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	j := remoteJWT(t, srv, src, clock)
	tok := mint(t, srv.Signer(), claimsAt(srv, clock))
	id1, _ := j.Verify(context.Background(), tok)
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if id2, err := j.Verify(context.Background(), tok); err != nil || id2 != id1 {
		t.Fatalf("after an unchanged refresh: err %v, cached %v", err, id2 == id1)
	}
}

// A flood of random kids causes at most one fetch per refetch interval.
func TestRemoteJWKSRefetchRateLimit(t *testing.T) {
	clock := newClock()
	srv := authntest.NewIssuer(t, authntest.WithAlg("ES256"))
	src := remote(t, srv, clock, nil)
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	j := remoteJWT(t, srv, src, clock)
	flood := func(n int) {
		for i := range n {
			_, err := j.Verify(context.Background(), mintWith(t, srv.Signer(), claimsAt(srv, clock), fmt.Sprintf("random-%d-%d", clock.Now().Unix(), i)))
			wantReason(t, err, authn.ReasonUnknownKey)
		}
	}
	flood(200)
	if n := srv.JWKSFetches(); n != 2 {
		t.Fatalf("fetches = %d after 200 random kids, want 2 (start + one refetch)", n)
	}
	clock.Advance(authn.DefaultJWKSRefetch - time.Second)
	flood(50)
	if n := srv.JWKSFetches(); n != 2 {
		t.Fatalf("fetches = %d within the refetch interval", n)
	}
	clock.Advance(time.Second)
	flood(50)
	if n := srv.JWKSFetches(); n != 3 {
		t.Fatalf("fetches = %d, want one more after the interval", n)
	}
}

// 100 concurrent requests naming a new kid share one fetch.
func TestRemoteJWKSConcurrentMissesCollapse(t *testing.T) {
	clock := newClock()
	srv := authntest.NewIssuer(t, authntest.WithAlg("RS256"))
	src := remote(t, srv, clock, nil)
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	j := remoteJWT(t, srv, src, clock)
	s := authntest.Must(srv.Rotate("", true))
	toks := make([]string, 100)
	for i := range toks {
		toks[i] = mint(t, s, claimsAt(srv, clock))
	}
	srv.SetDelay(100 * time.Millisecond) // the fetch is in flight while the others arrive
	var wg sync.WaitGroup
	errs := make(chan error, len(toks))
	start := make(chan struct{})
	for _, tok := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := j.Verify(context.Background(), tok)
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a concurrent request failed: %v", err)
		}
	}
	if n := srv.JWKSFetches(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (start + one shared refetch)", n)
	}
}

// Tokens that are malformed, expired, misaddressed or from an unknown issuer
// never make the source fetch, whatever kid they name.
func TestRemoteJWKSNoFetchForBadTokens(t *testing.T) {
	clock := newClock()
	srv := authntest.NewIssuer(t, authntest.WithAlg("ES256"))
	src := remote(t, srv, clock, nil)
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	j := remoteJWT(t, srv, src, clock)
	s := srv.Signer()
	edit := func(f func(map[string]any)) map[string]any { c := claimsAt(srv, clock); f(c); return c }
	for _, tc := range []struct {
		name   string
		tok    string
		reason authn.Reason
	}{
		{"fail/expired", mintWith(t, s, edit(func(c map[string]any) { c["exp"] = clock.Now().Add(-time.Hour).Unix() }), "new-kid"), authn.ReasonExpired},
		{"fail/not-yet-valid", mintWith(t, s, edit(func(c map[string]any) { c["nbf"] = clock.Now().Add(time.Hour).Unix() }), "new-kid"), authn.ReasonNotYetValid},
		{"fail/wrong-audience", mintWith(t, s, edit(func(c map[string]any) { c["aud"] = "billing" }), "new-kid"), authn.ReasonAudienceMismatch},
		{"fail/unknown-issuer", mintWith(t, s, edit(func(c map[string]any) { c["iss"] = "https://evil.example/" }), "new-kid"), authn.ReasonUnknownIssuer},
		{"fail/alg-none", authntest.RawToken(map[string]any{"alg": "none", "kid": "new-kid"}, claimsAt(srv, clock), nil), authn.ReasonInvalidSignature},
		{"fail/malformed-claims", authntest.RawToken(map[string]any{"alg": "ES256", "kid": "new-kid"}, nil, []byte("x")), authn.ReasonMalformed},
		{"fail/exp-missing", mintWith(t, s, edit(func(c map[string]any) { delete(c, "exp") }), "new-kid"), authn.ReasonInvalidCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := j.Verify(context.Background(), tc.tok)
			wantReason(t, err, tc.reason)
			if n := srv.JWKSFetches(); n != 1 {
				t.Fatalf("fetches = %d: a bad token made the source fetch", n)
			}
		})
	}
}

// The issuer goes down after warm-up: known kids keep working (through the
// stale window), new kids are unknown_key; past the stale window the source
// is unavailable (a technical failure, 503 at the gateway).
func TestRemoteJWKSOutageAfterWarmUp(t *testing.T) {
	for _, mode := range []struct {
		name string
		down func(*authntest.Issuer)
	}{
		{"unavailable", func(s *authntest.Issuer) { s.SetMode(authntest.ServeUnavailable) }},
		{"connection-closed", func(s *authntest.Issuer) { s.SetMode(authntest.ServeClose) }},
		{"server-gone", func(s *authntest.Issuer) { s.Close() }},
	} {
		t.Run(mode.name, func(t *testing.T) {
			clock := newClock()
			srv := authntest.NewIssuer(t, authntest.WithAlg("RS256"))
			src := remote(t, srv, clock, nil)
			if err := src.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			j := remoteJWT(t, srv, src, clock, authn.WithCacheTTL(0))
			known := mint(t, srv.Signer(), claimsAt(srv, clock))
			mode.down(srv)
			if err := src.Refresh(context.Background()); err == nil {
				t.Fatal("refresh succeeded against a down issuer")
			}
			if _, err := j.Verify(context.Background(), known); err != nil {
				t.Fatalf("known kid during the outage: %v", err)
			}
			_, err := j.Verify(context.Background(), mintWith(t, srv.Signer(), claimsAt(srv, clock), "new-kid"))
			wantReason(t, err, authn.ReasonUnknownKey)

			// Just inside the stale window (refresh due after 10 min, then
			// 1 h of stale-if-error): still served.
			clock.Advance(authn.DefaultJWKSRefresh + authn.DefaultJWKSStaleWindow - time.Second)
			known = mint(t, srv.Signer(), claimsAt(srv, clock))
			if _, err := j.Verify(context.Background(), known); err != nil {
				t.Fatalf("inside the stale window: %v", err)
			}
			if age, ok := src.Age(); !ok || age != authn.DefaultJWKSRefresh+authn.DefaultJWKSStaleWindow-time.Second {
				t.Fatalf("age = %s", age)
			}
			clock.Advance(time.Second)
			_, err = j.Verify(context.Background(), known)
			wantTechnical(t, err)
			if src.Available() || src.Status().LastError == "" {
				t.Fatalf("status = %+v", src.Status())
			}
		})
	}
}

// An issuer that cannot be fetched at start fails closed for its tokens
// (technical failure), and recovers on its own when it comes back.
func TestRemoteJWKSDownAtStart(t *testing.T) {
	clock := newClock()
	srv := authntest.NewIssuer(t, authntest.WithAlg("ES256"))
	srv.SetMode(authntest.ServeUnavailable)
	src := remote(t, srv, clock, nil)
	if err := src.Refresh(context.Background()); err == nil {
		t.Fatal("refresh succeeded")
	}
	j := remoteJWT(t, srv, src, clock)
	tok := mint(t, srv.Signer(), claimsAt(srv, clock))
	_, err := j.Verify(context.Background(), tok)
	wantTechnical(t, err) // this request tried one fetch itself
	_, err = j.Verify(context.Background(), tok)
	wantTechnical(t, err)
	if n := srv.JWKSFetches(); n != 2 {
		t.Fatalf("fetches = %d: want start + one on-demand fetch per refetch interval", n)
	}
	srv.SetMode(authntest.ServeOK)
	clock.Advance(authn.DefaultJWKSRefetch)
	if _, err := j.Verify(context.Background(), tok); err != nil {
		t.Fatalf("after the issuer came back: %v", err)
	}
}

// A refresh that brings an empty, unparsable, oversized or unusable set
// keeps the last good one.
func TestRemoteJWKSKeepsGoodSet(t *testing.T) {
	weak := authntest.Must(authntest.NewSigner("RS256", authntest.WithKID("weak"), authntest.WithRSABits(1024)))
	tooMany := func() []byte {
		m := authntest.Must(authntest.Must(authntest.NewSigner("ES256")).JWKMap())
		keys := make([]map[string]any, authn.MaxJWKSKeys+1)
		for i := range keys {
			k := map[string]any{}
			for n, v := range m {
				k[n] = v
			}
			k["kid"] = fmt.Sprintf("k%d", i)
			keys[i] = k
		}
		return authntest.Must(authntest.JWKSFromMaps(keys...))
	}()
	for _, tc := range []struct {
		name   string
		break_ func(*authntest.Issuer)
	}{
		{"fail/empty-body", func(s *authntest.Issuer) { s.SetMode(authntest.ServeEmpty) }},
		{"fail/garbage", func(s *authntest.Issuer) { s.SetMode(authntest.ServeGarbage) }},
		{"fail/huge", func(s *authntest.Issuer) { s.SetMode(authntest.ServeHuge) }},
		{"fail/no-keys", func(s *authntest.Issuer) { s.SetMode(authntest.ServeNoKeys) }},
		{"fail/only-weak-keys", func(s *authntest.Issuer) { s.SetSigners(weak) }},
		{"fail/5xx", func(s *authntest.Issuer) { s.SetMode(authntest.ServeUnavailable) }},
		{"fail/too-many-keys", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			srv := authntest.NewIssuer(t, authntest.WithAlg("ES256"))
			var jwksURL string
			if tc.break_ == nil {
				// A server that serves the good set once, then 101 keys.
				good := authntest.Must(srv.JWKS())
				var n int
				var mu sync.Mutex
				ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					mu.Lock()
					n++
					first := n == 1
					mu.Unlock()
					if first {
						_, _ = w.Write(good)
						return
					}
					_, _ = w.Write(tooMany)
				}))
				t.Cleanup(ts.Close)
				jwksURL = ts.URL
			}
			src := remote(t, srv, clock, func(c *authn.RemoteJWKSConfig) {
				if jwksURL != "" {
					c.JWKSURL = jwksURL
				}
			})
			if err := src.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			j := remoteJWT(t, srv, src, clock, authn.WithCacheTTL(0))
			tok := mint(t, srv.Signer(), claimsAt(srv, clock))
			if tc.break_ != nil {
				tc.break_(srv)
			}
			if err := src.Refresh(context.Background()); err == nil {
				t.Fatal("the bad set was accepted")
			}
			if _, err := j.Verify(context.Background(), tok); err != nil {
				t.Fatalf("the good set was replaced: %v", err)
			}
			if st := src.Status(); !st.Available || st.LastError == "" || st.Failures != 1 {
				t.Fatalf("status = %+v", st)
			}
		})
	}
}

func TestRemoteJWKSFetchTimeout(t *testing.T) {
	clock := newClock()
	srv := authntest.NewIssuer(t)
	srv.SetDelay(5 * time.Second)
	src := remote(t, srv, clock, func(c *authn.RemoteJWKSConfig) { c.FetchTimeout = 100 * time.Millisecond })
	start := time.Now()
	if err := src.Refresh(context.Background()); err == nil {
		t.Fatal("no timeout")
	}
	if time.Since(start) > 4*time.Second {
		t.Fatal("the fetch timeout was not applied")
	}
}

func TestRemoteJWKSDiscovery(t *testing.T) {
	t.Run("ok/jwks_uri-from-discovery", func(t *testing.T) {
		clock := newClock()
		srv := authntest.NewIssuer(t, authntest.WithAlg("EdDSA"), authntest.WithTLS())
		src := remote(t, srv, clock, func(c *authn.RemoteJWKSConfig) { c.JWKSURL, c.DiscoveryURL = "", srv.DiscoveryURL() })
		if err := src.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if srv.DiscoveryFetches() != 1 || srv.JWKSFetches() != 1 || src.Status().URL != srv.JWKSURL() {
			t.Fatalf("discovery %d, jwks %d, url %s", srv.DiscoveryFetches(), srv.JWKSFetches(), src.Status().URL)
		}
		if err := src.Refresh(context.Background()); err != nil || srv.DiscoveryFetches() != 1 {
			t.Fatalf("the jwks_uri is not kept: %v, discovery fetches %d", err, srv.DiscoveryFetches())
		}
		j := remoteJWT(t, srv, src, clock)
		if _, err := j.Verify(context.Background(), mint(t, srv.Signer(), claimsAt(srv, clock))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("fail/issuer-mismatch", func(t *testing.T) {
		clock := newClock()
		srv := authntest.NewIssuer(t, authntest.WithIssuerID("https://other.example/"))
		src := remote(t, srv, clock, func(c *authn.RemoteJWKSConfig) {
			c.JWKSURL, c.DiscoveryURL, c.Issuer = "", srv.DiscoveryURL(), "https://idp.example/"
		})
		err := src.Refresh(context.Background())
		if err == nil || !strings.Contains(err.Error(), `issuer "https://other.example/" is not the configured iss "https://idp.example/"`) || srv.JWKSFetches() != 0 {
			t.Fatalf("err = %v, jwks fetches %d", err, srv.JWKSFetches())
		}
	})
	t.Run("fail/issuer-trailing-slash", func(t *testing.T) {
		clock := newClock()
		srv := authntest.NewIssuer(t, authntest.WithIssuerID("https://idp.example"))
		src := remote(t, srv, clock, func(c *authn.RemoteJWKSConfig) {
			c.JWKSURL, c.DiscoveryURL, c.Issuer = "", srv.DiscoveryURL(), "https://idp.example/"
		})
		err := src.Refresh(context.Background())
		if err == nil || !strings.Contains(err.Error(), "differ only by a trailing slash") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("fail/discovery-down", func(t *testing.T) {
		clock := newClock()
		srv := authntest.NewIssuer(t)
		srv.SetMode(authntest.ServeGarbage)
		src := remote(t, srv, clock, func(c *authn.RemoteJWKSConfig) { c.JWKSURL, c.DiscoveryURL = "", srv.DiscoveryURL() })
		if err := src.Refresh(context.Background()); err == nil {
			t.Fatal("accepted")
		}
	})
}

// Redirects are followed only to the same host, under the same rules.
func TestRemoteJWKSRedirects(t *testing.T) {
	srv := authntest.NewIssuer(t)
	other := httptest.NewServer(http.RedirectHandler(srv.JWKSURL(), http.StatusFound)) // another port: another host
	t.Cleanup(other.Close)
	same := httptest.NewServer(nil)
	same.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		_, _ = w.Write(authntest.Must(srv.JWKS()))
	})
	t.Cleanup(same.Close)
	for _, tc := range []struct {
		name, url string
		ok        bool
	}{
		{"ok/same-host", same.URL + "/old", true},
		{"fail/other-host", other.URL + "/jwks.json", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := remote(t, srv, newClock(), func(c *authn.RemoteJWKSConfig) { c.JWKSURL = tc.url })
			err := src.Refresh(context.Background())
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if n := srv.JWKSFetches(); n != 0 {
		t.Fatalf("the redirect to another host was followed (%d fetches)", n)
	}
}

func TestNewRemoteJWKSErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  authn.RemoteJWKSConfig
		want string
	}{
		{"fail/no-url", authn.RemoteJWKSConfig{}, "exactly one"},
		{"fail/both-urls", authn.RemoteJWKSConfig{JWKSURL: "https://a/", DiscoveryURL: "https://a/d", Issuer: "x"}, "exactly one"},
		{"fail/plain-http", authn.RemoteJWKSConfig{JWKSURL: "http://idp.example/jwks"}, "plain http"},
		{"fail/ftp", authn.RemoteJWKSConfig{JWKSURL: "ftp://idp.example/jwks"}, "not https"},
		{"fail/user-info", authn.RemoteJWKSConfig{JWKSURL: "https://u:p@idp.example/jwks"}, "user info"},
		{"fail/no-host", authn.RemoteJWKSConfig{JWKSURL: "https:///jwks"}, "must have a host"},
		{"fail/discovery-without-iss", authn.RemoteJWKSConfig{DiscoveryURL: "https://idp.example/.well-known/openid-configuration"}, "needs the issuer"},
		{"fail/refresh-too-short", authn.RemoteJWKSConfig{JWKSURL: "https://a/", RefreshInterval: time.Minute}, "within 5m0s..24h0m0s"},
		{"fail/max-below-min", authn.RemoteJWKSConfig{JWKSURL: "https://a/", MinRefresh: 20 * time.Minute, MaxRefresh: 10 * time.Minute}, "min refresh"},
		{"fail/stale-window-too-long", authn.RemoteJWKSConfig{JWKSURL: "https://a/", StaleWindow: 25 * time.Hour}, "stale window"},
		{"ok/loopback-http", authn.RemoteJWKSConfig{JWKSURL: "http://127.0.0.1:1/jwks"}, ""},
		{"ok/loopback-v6", authn.RemoteJWKSConfig{JWKSURL: "http://[::1]:1/jwks"}, ""},
		{"ok/localhost", authn.RemoteJWKSConfig{JWKSURL: "http://localhost:1/jwks"}, ""},
		{"ok/insecure-opt-in", authn.RemoteJWKSConfig{JWKSURL: "http://idp.internal/jwks", AllowInsecureHTTP: true}, ""},
		{"ok/discovery", authn.RemoteJWKSConfig{DiscoveryURL: "https://idp.example/.well-known/openid-configuration", Issuer: "https://idp.example"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := authn.NewRemoteJWKS(tc.cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				_ = r.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// Start fetches in the background; Close stops it, and a closed source
// never fetches again.
func TestRemoteJWKSStartClose(t *testing.T) {
	srv := authntest.NewIssuer(t)
	src := remote(t, srv, &testClock{t: time.Now()}, nil)
	src.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !src.WaitReady(ctx) {
		t.Fatalf("not ready: %+v", src.Status())
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	before := srv.JWKSFetches()
	_, _ = src.Key(context.Background(), "unknown", "RS256")
	if srv.JWKSFetches() != before {
		t.Fatal("a closed source fetched")
	}
}
