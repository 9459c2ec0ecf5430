package keymanager_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/authn/keymanager"
	"github.com/gatehouse/gatehouse/internal/redisconn"
)

// Client secrets of the fixture applications.
const (
	shopSecret  = "shop-secret-0c81e2"
	rsSecret    = "rs-secret-77ab31"
	argonSecret = "argon-secret-5d2f"
)

func bcryptHash(t testing.TB, secret string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return "$2y$" + strings.TrimPrefix(string(h), "$2a$")
}

func argonHash(secret string) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(secret), salt, 1, 64, 1, 32)
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s", b64(salt), b64(key))
}

// appsData is the bundle data of the fixture: shop (read, write), rs (a
// resource server that may introspect), legacy (argon2id secret).
func appsData(t testing.TB) any {
	t.Helper()
	raw := fmt.Sprintf(`{
	  "shop": {"name": "Shop", "oauth2": {"client_secrets": [%q], "scopes": ["read", "write"]}},
	  "rs": {"oauth2": {"client_id": "resource-server", "client_secrets": [%q], "introspect": true}},
	  "legacy": {"oauth2": {"client_secrets": [%q], "scopes": ["read"]}},
	  "no-oauth": {"name": "not a client"}
	}`, bcryptHash(t, shopSecret), bcryptHash(t, rsSecret), argonHash(argonSecret))
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

type kmFixture struct {
	km  *keymanager.KeyManager
	srv *httptest.Server
}

func newKM(t testing.TB, edit func(*keymanager.Config)) *kmFixture {
	t.Helper()
	store, err := keymanager.OpenFile(filepath.Join(t.TempDir(), "tokens.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	f := &kmFixture{}
	f.srv = httptest.NewUnstartedServer(nil)
	cfg := keymanager.Config{Issuer: "http://" + f.srv.Listener.Addr().String(), Store: store, SubscriptionValidation: true}
	if edit != nil {
		edit(&cfg)
	}
	if f.km, err = keymanager.New(cfg); err != nil {
		t.Fatal(err)
	}
	apps, err := keymanager.ParseApplications(appsData(t))
	if err != nil {
		t.Fatal(err)
	}
	f.km.SetApplications(apps)
	f.srv.Config.Handler = f.km
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

// postForm sends a form; basic is "id:secret" for client_secret_basic.
func (f *kmFixture) postForm(t testing.TB, path, basic string, form url.Values) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != "" {
		id, secret, _ := strings.Cut(basic, ":")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &a.body); err != nil {
			t.Fatalf("%s answered %d with non-JSON %q", path, resp.StatusCode, b)
		}
	}
	return a
}

func (f *kmFixture) token(t testing.TB, basic string, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	a := f.postForm(t, keymanager.TokenPath, basic, form)
	if a.status != 200 {
		t.Fatalf("token: %d %v", a.status, a.body)
	}
	return a.body["access_token"].(string)
}

func TestTokenEndpoint(t *testing.T) {
	f := newKM(t, nil)
	cc := url.Values{"grant_type": {"client_credentials"}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name   string
		basic  string
		form   url.Values
		status int
		errC   string
		scope  string // ok: the granted scope
	}{
		{name: "ok/basic-all-allowed-scopes", basic: "shop:" + shopSecret, form: cc, status: 200, scope: "read write"},
		{name: "ok/post", form: with("grant_type", "client_credentials", "client_id", "shop", "client_secret", shopSecret, "scope", "read"), status: 200, scope: "read"},
		{name: "ok/argon2id-secret", basic: "legacy:" + argonSecret, form: cc, status: 200, scope: "read"},
		{name: "ok/client-without-scopes", basic: "resource-server:" + rsSecret, form: cc, status: 200},
		{name: "fail/wrong-secret", basic: "shop:nope", form: cc, status: 401, errC: "invalid_client"},
		{name: "fail/unknown-client", basic: "ghost:" + shopSecret, form: cc, status: 401, errC: "invalid_client"},
		{name: "fail/app-without-oauth2", basic: "no-oauth:x", form: cc, status: 401, errC: "invalid_client"},
		{name: "fail/no-client-authentication", form: cc, status: 400, errC: "invalid_request"},
		{name: "fail/two-authentication-methods", basic: "shop:" + shopSecret, form: with("grant_type", "client_credentials", "client_secret", shopSecret), status: 400, errC: "invalid_request"},
		{name: "fail/scope-not-allowed", basic: "shop:" + shopSecret, form: with("grant_type", "client_credentials", "scope", "read admin"), status: 400, errC: "invalid_scope"},
		{name: "fail/unsupported-grant", basic: "shop:" + shopSecret, form: with("grant_type", "password"), status: 400, errC: "unsupported_grant_type"},
		{name: "fail/no-grant-type", basic: "shop:" + shopSecret, form: url.Values{}, status: 400, errC: "invalid_request"},
		{name: "fail/repeated-parameter", basic: "shop:" + shopSecret, form: with("grant_type", "client_credentials", "scope", "read", "scope", "write"), status: 400, errC: "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := f.postForm(t, keymanager.TokenPath, tc.basic, tc.form)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %v", a.status, tc.status, a.body)
			}
			if a.header.Get("Cache-Control") != "no-store" {
				t.Fatal("token endpoint answer without Cache-Control: no-store")
			}
			if tc.status != 200 {
				if a.body["error"] != tc.errC {
					t.Fatalf("error %v, want %s", a.body["error"], tc.errC)
				}
				if tc.status == 401 && tc.basic != "" && a.header.Get("WWW-Authenticate") == "" {
					t.Fatal("401 without a challenge")
				}
				return
			}
			tok, _ := a.body["access_token"].(string)
			if !strings.HasPrefix(tok, keymanager.OpaquePrefix) || len(tok) < 40 || a.body["token_type"] != "Bearer" || a.body["expires_in"] != float64(3600) {
				t.Fatalf("answer %v", a.body)
			}
			if got, _ := a.body["scope"].(string); got != tc.scope {
				t.Fatalf("scope %q, want %q", got, tc.scope)
			}
		})
	}
	t.Run("fail/get", func(t *testing.T) {
		resp, err := http.Get(f.srv.URL + keymanager.TokenPath)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("fail/json-body", func(t *testing.T) {
		resp, err := http.Post(f.srv.URL+keymanager.TokenPath, "application/json", strings.NewReader(`{"grant_type":"client_credentials"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

// In process: an issued token validates with its application, scopes and
// subscription flag; revocation, a removed application and narrowed scopes
// take effect.
func TestValidateInProcess(t *testing.T) {
	ctx := context.Background()
	f := newKM(t, func(c *keymanager.Config) { c.CacheTTL = -1 })
	tok := f.token(t, "shop:"+shopSecret, "")
	ti, err := f.km.Validate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	id := ti.WithScheme("oauth")
	if id.Type != authn.TypeOpaqueToken || id.Source != "gatehouse" || id.ClientID != "shop" || id.Application != "shop" ||
		strings.Join(id.Scopes, " ") != "read write" || !id.SubscriptionValidation || id.TokenID == "" || id.ExpiresAt.IsZero() {
		t.Fatalf("identity %v", id.Map())
	}
	inactive := func(t *testing.T, tok string) {
		t.Helper()
		_, err := f.km.Validate(ctx, tok)
		if rej, ok := authn.AsRejection(err); !ok || rej.Reason != authn.ReasonInactiveToken {
			t.Fatalf("err = %v, want inactive", err)
		}
	}
	t.Run("fail/foreign-token", func(t *testing.T) { inactive(t, "some-other-servers-token") })
	t.Run("fail/guessed-token", func(t *testing.T) { inactive(t, keymanager.OpaquePrefix+strings.Repeat("A", 43)) })
	t.Run("ok/scopes-narrowed-by-data", func(t *testing.T) {
		apps, _ := keymanager.ParseApplications(map[string]any{"shop": map[string]any{"oauth2": map[string]any{
			"client_secrets": []any{bcryptHash(t, shopSecret)}, "scopes": []any{"read"}}}})
		f.km.SetApplications(apps)
		defer f.km.SetApplications(mustApps(t))
		ti, err := f.km.Validate(ctx, tok)
		if err != nil || strings.Join(ti.Scopes, " ") != "read" {
			t.Fatalf("%v %v", ti, err)
		}
	})
	t.Run("fail/application-removed", func(t *testing.T) {
		f.km.SetApplications(nil)
		defer f.km.SetApplications(mustApps(t))
		inactive(t, tok)
	})
	t.Run("fail/revoked-by-its-client", func(t *testing.T) {
		other := f.token(t, "legacy:"+argonSecret, "")
		a := f.postForm(t, keymanager.RevokePath, "shop:"+shopSecret, url.Values{"token": {other}})
		if a.status != 400 {
			t.Fatalf("another client revoked the token: %d", a.status)
		}
		if a := f.postForm(t, keymanager.RevokePath, "shop:"+shopSecret, url.Values{"token": {tok}}); a.status != 200 {
			t.Fatalf("revoke: %d %v", a.status, a.body)
		}
		inactive(t, tok)
		if a := f.postForm(t, keymanager.RevokePath, "shop:"+shopSecret, url.Values{"token": {tok}}); a.status != 200 {
			t.Fatalf("revoking twice: %d", a.status)
		}
	})
}

func mustApps(t testing.TB) *keymanager.Applications {
	apps, err := keymanager.ParseApplications(appsData(t))
	if err != nil {
		t.Fatal(err)
	}
	return apps
}

// The internal key manager is a real RFC 7662 server: the gateway's own
// introspection client talks to it over HTTP.
func TestIntrospectionOverHTTP(t *testing.T) {
	f := newKM(t, nil)
	client := func(id, secret string) *authn.Introspection {
		c, err := authn.NewIntrospection(authn.IntrospectionConfig{
			Name: "internal-over-http", URL: f.srv.URL + keymanager.IntrospectPath,
			ClientID: id, ClientSecret: authn.Redacted(secret), Issuer: f.km.Issuer(),
			Claims: authn.IntrospectionClaims{Application: "application"},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	rs := client("resource-server", rsSecret)
	tok := f.token(t, "shop:"+shopSecret, "read")
	ctx := context.Background()
	ti, err := rs.Validate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if ti.ClientID != "shop" || ti.Application != "shop" || strings.Join(ti.Scopes, " ") != "read" || ti.ExpiresAt.IsZero() || ti.TokenID == "" {
		t.Fatalf("info %+v", ti)
	}
	_, err = rs.Validate(ctx, "gk_unknown")
	if rej, ok := authn.AsRejection(err); !ok || rej.Reason != authn.ReasonInactiveToken {
		t.Fatalf("unknown token: %v", err)
	}
	// A client that may not introspect, and a wrong secret: the gateway's
	// own credentials, never the client's fault.
	for _, c := range []*authn.Introspection{client("shop", shopSecret), client("resource-server", "wrong")} {
		if _, err := c.Validate(ctx, tok); !errors.Is(err, authn.ErrKeyManagerCredentials) {
			t.Fatalf("err = %v", err)
		}
	}
}

func TestMetadataAndJWTFormat(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f := newKM(t, func(c *keymanager.Config) { c.Format, c.Signer = keymanager.FormatJWT, key })
	resp, err := http.Get(f.srv.URL + keymanager.MetadataPath)
	if err != nil {
		t.Fatal(err)
	}
	var md map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&md)
	resp.Body.Close()
	if md["issuer"] != f.km.Issuer() || md["token_endpoint"] != f.srv.URL+keymanager.TokenPath || md["jwks_uri"] != f.srv.URL+keymanager.JWKSPath {
		t.Fatalf("metadata %v", md)
	}
	resp, err = http.Get(f.srv.URL + keymanager.JWKSPath)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	keys, err := authn.ParseJWKS(jwks, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := f.token(t, "shop:"+shopSecret, "write")
	// Any resource server verifies it with the published keys.
	j, err := authn.NewJWT("oauth", []*authn.Issuer{{Name: "gh", Issuer: f.km.Issuer(), AllowAnyAudience: true, Keys: keys, Algorithms: []string{"ES256"}}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := j.Verify(context.Background(), tok)
	if err != nil || id.ClientID != "shop" || strings.Join(id.Scopes, " ") != "write" {
		t.Fatalf("%v %v", id, err)
	}
	// The gateway validates it in process, and revocation still works.
	if _, err := f.km.Validate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if a := f.postForm(t, keymanager.RevokePath, "shop:"+shopSecret, url.Values{"token": {tok}}); a.status != 200 {
		t.Fatal(a.status)
	}
	f.km.SetApplications(mustApps(t)) // a new generation: empty cache
	if _, err := f.km.Validate(context.Background(), tok); err == nil {
		t.Fatal("revoked JWT still active in process")
	}
}

func TestParseApplicationsErrors(t *testing.T) {
	good := bcryptHash(t, "x")
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"fail/not-an-object", `[]`, "must be an object"},
		{"fail/no-secrets", `{"a": {"oauth2": {"scopes": ["r"]}}}`, "client_secrets must list"},
		{"fail/plain-secret", `{"a": {"oauth2": {"client_secrets": ["hunter2"]}}}`, "not bcrypt"},
		{"fail/unknown-member", `{"a": {"oauth2": {"client_secrets": ["` + good + `"], "secret": "x"}}}`, "unknown field"},
		{"fail/bad-client-id", `{"a": {"oauth2": {"client_id": "a:b", "client_secrets": ["` + good + `"]}}}`, "client_id"},
		{"fail/bad-scope", `{"a": {"oauth2": {"client_secrets": ["` + good + `"], "scopes": ["a b"]}}}`, "scope"},
		{"fail/duplicate-client-id", `{"a": {"oauth2": {"client_secrets": ["` + good + `"]}}, "b": {"oauth2": {"client_id": "a", "client_secrets": ["` + good + `"]}}}`, "is also the client_id"},
		{"fail/argon2-bad-params", `{"a": {"oauth2": {"client_secrets": ["$argon2id$v=19$m=999999999,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg"]}}}`, "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var raw any
			_ = json.Unmarshal([]byte(tc.raw), &raw)
			_, err := keymanager.ParseApplications(raw)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	store, _ := keymanager.OpenFile(filepath.Join(t.TempDir(), "t.db"), nil)
	defer store.Close()
	tests := []struct {
		name string
		cfg  keymanager.Config
	}{
		{"fail/no-issuer", keymanager.Config{Store: store}},
		{"fail/no-store", keymanager.Config{Issuer: "https://gw/"}},
		{"fail/jwt-without-key", keymanager.Config{Issuer: "https://gw/", Store: store, Format: keymanager.FormatJWT}},
		{"fail/lifetime", keymanager.Config{Issuer: "https://gw/", Store: store, Lifetime: 48 * time.Hour}},
		{"fail/format", keymanager.Config{Issuer: "https://gw/", Store: store, Format: "paseto"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := keymanager.New(tc.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// A store that cannot answer fails closed: 503 from the endpoints, a
// technical failure (never "inactive") in process.
func TestStoreDownFailsClosed(t *testing.T) {
	ctx := context.Background()
	store, err := keymanager.OpenRedis(ctx, keymanager.RedisConfig{Conn: redisconn.Config{Address: authntest.StartRedis(t)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newKM(t, func(c *keymanager.Config) { c.Store, c.CacheTTL = store, -1 })
	tok := f.token(t, "shop:"+shopSecret, "read")
	_ = store.Close() // the connection pool is gone: every command fails
	_, err = f.km.Validate(ctx, tok)
	if _, rejected := authn.AsRejection(err); rejected || !errors.Is(err, authn.ErrKeyManagerUnavailable) {
		t.Fatalf("err = %v, want a technical failure", err)
	}
	for _, tc := range []struct {
		name  string
		path  string
		basic string
		form  url.Values
	}{
		{"fail/token", keymanager.TokenPath, "shop:" + shopSecret, url.Values{"grant_type": {"client_credentials"}}},
		{"fail/introspect", keymanager.IntrospectPath, "resource-server:" + rsSecret, url.Values{"token": {tok}}},
		{"fail/revoke", keymanager.RevokePath, "shop:" + shopSecret, url.Values{"token": {tok}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := f.postForm(t, tc.path, tc.basic, tc.form)
			if a.status != 503 || a.body["error"] != "temporarily_unavailable" || a.header.Get("Retry-After") == "" {
				t.Fatalf("%d %v", a.status, a.body)
			}
		})
	}
}
