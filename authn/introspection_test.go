package authn_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

// kmFixture is one loopback RFC 7662 server and a client of it on a test
// clock, behind a bearer scheme "opaque".
type kmFixture struct {
	clock  *testClock
	server *authntest.Introspector
	km     *authn.Introspection
	bearer *authn.Bearer
}

func newKMFixture(t *testing.T, edit func(*authn.IntrospectionConfig), opts ...authntest.IntrospectorOption) *kmFixture {
	t.Helper()
	f := &kmFixture{clock: newClock(), server: authntest.NewIntrospector(t, opts...)}
	cfg := authn.IntrospectionConfig{
		Name:         "corp-km",
		URL:          f.server.URL(),
		ClientID:     f.server.ClientID(),
		ClientSecret: authn.Redacted(f.server.Secret()),
		Timeout:      time.Second,
		Now:          f.clock.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	var err error
	if f.km, err = authn.NewIntrospection(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.km.Close() })
	if f.bearer, err = authn.NewBearer("opaque", authn.BearerConfig{KeyManagers: []authn.KeyManager{f.km}}); err != nil {
		t.Fatal(err)
	}
	return f
}

// issue adds an active token expiring in an hour of the test clock.
func (f *kmFixture) issue(extra map[string]any) string {
	c := map[string]any{
		"scope": "read write", "client_id": "app-1", "sub": "alice", "username": "alice@example",
		"aud": "petstore", "iss": "https://km.example/", "exp": f.clock.Now().Add(time.Hour).Unix(),
		"iat": f.clock.Now().Unix(), "jti": "tok-1",
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return f.server.Issue(c)
}

func (f *kmFixture) auth(tok string) (*authn.Identity, error) {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return f.bearer.Authenticate(r)
}

func wantKMReason(t *testing.T, err error, reason authn.Reason) {
	t.Helper()
	rej, ok := authn.AsRejection(err)
	if !ok || rej.Reason != reason {
		t.Fatalf("err = %v, want rejection %s", err, reason)
	}
	if rej.Scheme != "opaque" {
		t.Fatalf("rejection scheme = %q, want opaque", rej.Scheme)
	}
}

func wantKMFailure(t *testing.T, err error, target error) {
	t.Helper()
	if err == nil || errors.Is(err, authn.ErrNoCredentials) {
		t.Fatalf("err = %v, want a technical failure", err)
	}
	if _, ok := authn.AsRejection(err); ok {
		t.Fatalf("err = %v is a rejection; a key manager failure must never blame the client", err)
	}
	if !errors.Is(err, authn.ErrKeyManagerUnavailable) || (target != nil && !errors.Is(err, target)) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

func TestIntrospectionAnswers(t *testing.T) {
	tests := []struct {
		name   string
		cfg    func(*authn.IntrospectionConfig)
		opts   []authntest.IntrospectorOption
		claims map[string]any // edits of the default answer
		check  func(t *testing.T, id *authn.Identity, err error)
	}{
		{name: "ok/client_secret_basic", check: func(t *testing.T, id *authn.Identity, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if id.Type != authn.TypeOpaqueToken || id.Scheme != "opaque" || id.Source != "corp-km" || id.Subject != "alice" ||
				id.ClientID != "app-1" || id.TokenID != "tok-1" || id.Issuer != "https://km.example/" {
				t.Fatalf("identity = %+v", id.Map())
			}
			if len(id.Scopes) != 2 || id.Scopes[0] != "read" || id.Scopes[1] != "write" || len(id.Audience) != 1 || id.ExpiresAt.IsZero() {
				t.Fatalf("identity = %+v", id.Map())
			}
			if id.Claims()["username"] != "alice@example" || len(id.CredentialID) != 12 {
				t.Fatalf("identity = %+v", id.Map())
			}
		}},
		{
			name: "ok/client_secret_basic-form-encoded-secret",
			cfg:  func(c *authn.IntrospectionConfig) { c.ClientID, c.ClientSecret = "gw:1", "s3cr3t +%/:é" },
			opts: []authntest.IntrospectorOption{authntest.WithClientSecret("gw:1", "s3cr3t +%/:é")},
		},
		{name: "ok/client_secret_post", cfg: func(c *authn.IntrospectionConfig) { c.AuthMethod = authn.AuthClientSecretPost }},
		{
			name: "ok/bearer",
			cfg:  func(c *authn.IntrospectionConfig) { c.AuthMethod, c.BearerToken = authn.AuthBearer, "gw-access" },
			opts: []authntest.IntrospectorOption{authntest.WithBearerAuth("gw-access")},
		},
		{name: "ok/scp-array-and-no-exp", claims: map[string]any{"scope": nil, "scp": []any{"a", "b"}, "exp": nil}, check: func(t *testing.T, id *authn.Identity, err error) {
			if err != nil || len(id.Scopes) != 2 || !id.ExpiresAt.IsZero() {
				t.Fatalf("id = %v, err = %v", id, err)
			}
		}},
		{name: "ok/username-when-no-sub", claims: map[string]any{"sub": nil}, check: func(t *testing.T, id *authn.Identity, err error) {
			if err != nil || id.Subject != "alice@example" {
				t.Fatalf("id = %v, err = %v", id, err)
			}
		}},
		{
			name: "ok/claim-mapping",
			cfg: func(c *authn.IntrospectionConfig) {
				c.Claims = authn.IntrospectionClaims{Scope: "perms", ClientID: "cid", Subject: "uid", Application: "app"}
			},
			claims: map[string]any{"perms": []any{"x"}, "cid": "c-9", "uid": "u-9", "app": map[string]any{"id": "app-9"}},
			check: func(t *testing.T, id *authn.Identity, err error) {
				if err != nil || id.ClientID != "c-9" || id.Subject != "u-9" || id.Application != "app-9" || len(id.Scopes) != 1 || id.Scopes[0] != "x" {
					t.Fatalf("id = %v, err = %v", id.Map(), err)
				}
			},
		},
		{name: "ok/subscription-validation", cfg: func(c *authn.IntrospectionConfig) { c.SubscriptionValidation = true }, check: func(t *testing.T, id *authn.Identity, err error) {
			if err != nil || !id.SubscriptionValidation {
				t.Fatalf("id = %v, err = %v", id, err)
			}
		}},
		{name: "ok/expected-iss-and-aud", cfg: func(c *authn.IntrospectionConfig) {
			c.Issuer, c.Audiences = "https://km.example/", []string{"orders", "petstore"}
		}},
		{name: "fail/expired-but-active", claims: map[string]any{"exp": int64(1_700_000_000)}, check: reason(authn.ReasonInactiveToken)},
		{name: "fail/not-yet-valid", claims: map[string]any{"nbf": int64(1_900_000_000)}, check: reason(authn.ReasonNotYetValid)},
		{name: "fail/exp-not-a-number", claims: map[string]any{"exp": "soon"}, check: reason(authn.ReasonMalformed)},
		{name: "fail/iss-mismatch", cfg: func(c *authn.IntrospectionConfig) { c.Issuer = "https://other.example/" }, check: reason(authn.ReasonUnknownIssuer)},
		{name: "fail/iss-missing", cfg: func(c *authn.IntrospectionConfig) { c.Issuer = "https://km.example/" }, claims: map[string]any{"iss": nil}, check: reason(authn.ReasonUnknownIssuer)},
		{name: "fail/aud-mismatch", cfg: func(c *authn.IntrospectionConfig) { c.Audiences = []string{"orders"} }, check: reason(authn.ReasonAudienceMismatch)},
		{
			name:  "fail/wrong-client-secret-is-the-gateways-fault",
			cfg:   func(c *authn.IntrospectionConfig) { c.ClientSecret = "not-it" },
			check: failure(authn.ErrKeyManagerCredentials),
		},
		{
			name:  "fail/bearer-not-accepted",
			cfg:   func(c *authn.IntrospectionConfig) { c.AuthMethod, c.BearerToken = authn.AuthBearer, "gw-access" },
			check: failure(authn.ErrKeyManagerCredentials),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newKMFixture(t, tc.cfg, tc.opts...)
			id, err := f.auth(f.issue(tc.claims))
			if tc.check == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			tc.check(t, id, err)
		})
	}
}

func reason(r authn.Reason) func(*testing.T, *authn.Identity, error) {
	return func(t *testing.T, _ *authn.Identity, err error) { t.Helper(); wantKMReason(t, err, r) }
}

func failure(target error) func(*testing.T, *authn.Identity, error) {
	return func(t *testing.T, _ *authn.Identity, err error) { t.Helper(); wantKMFailure(t, err, target) }
}

// Every way a key manager can misbehave fails closed: a technical failure
// (503), never a rejection (401) and never an identity; and nothing is
// cached: the same token works once the server is healthy again.
func TestIntrospectionFailsClosed(t *testing.T) {
	tests := []struct {
		name   string
		mode   authntest.IntrospectMode
		delay  time.Duration
		target error
	}{
		{name: "fail/slow", delay: 3 * time.Second},
		{name: "fail/503", mode: authntest.IntrospectUnavailable},
		{name: "fail/500", mode: authntest.IntrospectServerError},
		{name: "fail/401-to-the-gateway", mode: authntest.IntrospectUnauthorized, target: authn.ErrKeyManagerCredentials},
		{name: "fail/connection-reset", mode: authntest.IntrospectClose},
		{name: "fail/garbage", mode: authntest.IntrospectGarbage},
		{name: "fail/not-json-content-type", mode: authntest.IntrospectHTML},
		{name: "fail/huge", mode: authntest.IntrospectHuge},
		{name: "fail/active-string-true", mode: authntest.IntrospectActiveString},
		{name: "fail/redirect", mode: authntest.IntrospectRedirect},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newKMFixture(t, func(c *authn.IntrospectionConfig) { c.Timeout = 300 * time.Millisecond })
			tok := f.issue(nil)
			f.server.SetMode(tc.mode)
			f.server.SetDelay(tc.delay)
			id, err := f.auth(tok)
			if id != nil {
				t.Fatalf("identity %v from a failing key manager", id.Map())
			}
			wantKMFailure(t, err, tc.target)
			f.server.SetMode(authntest.IntrospectOK)
			f.server.SetDelay(0)
			before := f.server.Calls()
			if _, err := f.auth(tok); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
			if f.server.Calls() != before+1 {
				t.Fatalf("the failure was cached: %d calls after recovery", f.server.Calls()-before)
			}
		})
	}
}

func TestIntrospectionCache(t *testing.T) {
	t.Run("ok/hit-then-miss-after-ttl-not-extended-on-hit", func(t *testing.T) {
		f := newKMFixture(t, nil) // TTL 60 s, token exp in 1 h
		tok := f.issue(nil)
		for _, step := range []time.Duration{0, 30 * time.Second, 29 * time.Second} {
			f.clock.Advance(step)
			if _, err := f.auth(tok); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.server.CallsFor(tok); n != 1 {
			t.Fatalf("%d calls within the TTL, want 1", n)
		}
		f.clock.Advance(2 * time.Second) // 61 s after the answer, hits at 30 s and 59 s
		if _, err := f.auth(tok); err != nil {
			t.Fatal(err)
		}
		if n := f.server.CallsFor(tok); n != 2 {
			t.Fatalf("%d calls after the TTL, want 2", n)
		}
		if hits, misses := f.km.CacheStats(); hits != 2 || misses < 2 {
			t.Fatalf("hits %d misses %d", hits, misses)
		}
	})
	t.Run("ok/entry-ends-at-exp", func(t *testing.T) {
		f := newKMFixture(t, nil)
		tok := f.issue(map[string]any{"exp": f.clock.Now().Add(20 * time.Second).Unix()})
		if _, err := f.auth(tok); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(21 * time.Second)
		_, err := f.auth(tok)
		wantKMReason(t, err, authn.ReasonInactiveToken) // asked again: the server still says active, exp says no
		if n := f.server.CallsFor(tok); n != 2 {
			t.Fatalf("%d calls, want 2 (no cache past exp)", n)
		}
	})
	t.Run("fail/revoked-at-the-server-once-the-entry-ends", func(t *testing.T) {
		f := newKMFixture(t, nil)
		tok := f.issue(nil)
		if _, err := f.auth(tok); err != nil {
			t.Fatal(err)
		}
		f.server.Revoke(tok)
		f.clock.Advance(59 * time.Second)
		if _, err := f.auth(tok); err != nil {
			t.Fatalf("cached answer: %v", err)
		}
		f.clock.Advance(2 * time.Second)
		_, err := f.auth(tok)
		wantKMReason(t, err, authn.ReasonInactiveToken)
	})
	t.Run("ok/negative-cache-10s", func(t *testing.T) {
		f := newKMFixture(t, nil)
		const tok = "never-issued-token"
		for range 3 {
			_, err := f.auth(tok)
			wantKMReason(t, err, authn.ReasonInactiveToken)
		}
		if n := f.server.CallsFor(tok); n != 1 {
			t.Fatalf("%d calls, want 1", n)
		}
		f.clock.Advance(11 * time.Second)
		_, _ = f.auth(tok)
		if n := f.server.CallsFor(tok); n != 2 {
			t.Fatalf("%d calls after the negative TTL, want 2", n)
		}
	})
	t.Run("ok/cache-disabled", func(t *testing.T) {
		f := newKMFixture(t, func(c *authn.IntrospectionConfig) { c.CacheTTL, c.NegativeCacheTTL = -1, -1 })
		tok := f.issue(nil)
		for range 3 {
			if _, err := f.auth(tok); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.server.CallsFor(tok); n != 3 {
			t.Fatalf("%d calls, want 3", n)
		}
	})
}

// 200 concurrent requests with the same uncached token make one call.
func TestIntrospectionSingleflight(t *testing.T) {
	f := newKMFixture(t, nil)
	tok := f.issue(nil)
	f.server.SetDelay(200 * time.Millisecond) // keep the flight open while all join
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.auth(tok); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := f.server.CallsFor(tok); n != 1 {
		t.Fatalf("%d introspection calls for 200 concurrent requests, want 1", n)
	}
}

// Two key managers never share cache entries: each answers for itself.
func TestIntrospectionCachePerKeyManager(t *testing.T) {
	a := newKMFixture(t, nil)
	b := newKMFixture(t, func(c *authn.IntrospectionConfig) { c.Name = "partner-km" })
	tok := a.issue(nil) // active at a only
	if _, err := a.km.Validate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if _, err := b.km.Validate(context.Background(), tok); err == nil {
		t.Fatal("b answered from a's cache")
	}
	b.server.Set(tok, map[string]any{"sub": "bob", "exp": b.clock.Now().Add(time.Hour).Unix()})
	a.clock.Advance(11 * time.Second)
	b.clock.Advance(11 * time.Second)
	ia, errA := a.km.Validate(context.Background(), tok)
	ib, errB := b.km.Validate(context.Background(), tok)
	if errA != nil || errB != nil || ia.Subject != "alice" || ib.Subject != "bob" || ib.Source != "partner-km" {
		t.Fatalf("a: %v %v; b: %v %v", ia, errA, ib, errB)
	}
	if a.server.CallsFor(tok) != 1 || b.server.CallsFor(tok) != 2 {
		t.Fatalf("calls: a %d (want 1), b %d (want 2)", a.server.CallsFor(tok), b.server.CallsFor(tok))
	}
}

func TestIntrospectionBreaker(t *testing.T) {
	f := newKMFixture(t, nil)
	f.server.SetMode(authntest.IntrospectServerError)
	for i := range authn.DefaultBreakerFailures {
		_, err := f.auth(f.issue(map[string]any{"jti": i}))
		wantKMFailure(t, err, nil)
	}
	calls := f.server.Calls()
	_, err := f.auth(f.issue(nil))
	wantKMFailure(t, err, authn.ErrBreakerOpen)
	if f.server.Calls() != calls || !f.km.BreakerOpen() {
		t.Fatal("an open breaker still called the key manager")
	}
	f.server.SetMode(authntest.IntrospectOK)
	f.clock.Advance(authn.DefaultBreakerCooldown)
	tok := f.issue(nil)
	if _, err := f.auth(tok); err != nil { // the half-open trial
		t.Fatal(err)
	}
	if f.km.BreakerOpen() {
		t.Fatal("a successful trial did not close the breaker")
	}
}

func TestNewIntrospectionErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  authn.IntrospectionConfig
	}{
		{"fail/no-name", authn.IntrospectionConfig{URL: "https://km.example/introspect", ClientID: "a", ClientSecret: "b"}},
		{"fail/plain-http", authn.IntrospectionConfig{Name: "k", URL: "http://km.example/introspect", ClientID: "a", ClientSecret: "b"}},
		{"fail/no-secret", authn.IntrospectionConfig{Name: "k", URL: "https://km.example/introspect", ClientID: "a"}},
		{"fail/bearer-without-token", authn.IntrospectionConfig{Name: "k", URL: "https://km.example/introspect", AuthMethod: authn.AuthBearer}},
		{"fail/unknown-method", authn.IntrospectionConfig{Name: "k", URL: "https://km.example/introspect", AuthMethod: "private_key_jwt"}},
		{"fail/none-with-secret", authn.IntrospectionConfig{Name: "k", URL: "https://km.example/introspect", AuthMethod: authn.AuthNone, ClientID: "a", ClientSecret: "b"}},
		{"fail/none-with-bearer-token", authn.IntrospectionConfig{Name: "k", URL: "https://km.example/introspect", AuthMethod: authn.AuthNone, BearerToken: "t"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := authn.NewIntrospection(tc.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TLS to the key manager: its CA must be configured (custom roots); an
// unknown authority fails closed.
func TestIntrospectionTLS(t *testing.T) {
	ca := authntest.Must(authntest.NewCA())
	other := authntest.Must(authntest.NewCA())
	for _, tc := range []struct {
		name  string
		roots *authntest.CA
		ok    bool
	}{{"ok/custom-ca", ca, true}, {"fail/unknown-authority", other, false}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newKMFixture(t, func(c *authn.IntrospectionConfig) { c.RootCAs = tc.roots.Pool() }, authntest.WithIntrospectorTLS(ca))
			if !strings.HasPrefix(f.server.URL(), "https://") {
				t.Fatal("not TLS")
			}
			_, err := f.auth(f.issue(nil))
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				wantKMFailure(t, err, nil)
			}
		})
	}
}
