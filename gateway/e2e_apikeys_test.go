package gateway_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

const stsIssuer = "https://gatehouse.test/apikeys"

// keysConfig: an API whose resources read API keys at different places
// (header, query, cookie), a second API, a bearer scheme whose issuers
// include one that trusts the token service's own key (so only the API key
// marker keeps API keys out), the token service with its endpoint on the
// admin listener, and static keys in bundle data.
var keysConfig = withFixtures(`
apis:
  - openapi: keys.yaml
    upstream: ${UPSTREAM}/k
  - openapi: other.yaml
    upstream: ${UPSTREAM}/o
schemes:
  headerKey: {type: api_key}
  queryKey: {type: api_key}
  cookieKey: {type: api_key}
  jwt: {type: bearer, issuers: [sts-as-idp, test]}
issuers:
  - name: sts-as-idp
    issuer: "https://gatehouse.test/apikeys"
    jwks_file: sts-public.jwks
    allow_any_audience: true
  - name: test
    issuer: "https://issuer.test/"
    jwks_file: issuer.jwks
    audiences: [shapes]
api_keys:
  issuer: "https://gatehouse.test/apikeys"
  signing_key_file: sts-key.pem
  default_validity: 24h
  max_validity: 1000h
  endpoint:
    basic_users_file: users.htpasswd
    basic_users_meta_file: issuers.yaml
policy:
  bundles: [bundle/]
log: {level: trace}
`, "listen")

const keysDoc = `
openapi: 3.1.0
info: {title: Keys, version: "1"}
x-gatehouse-base-path: /keys
security:
  - headerKey: []
paths:
  /header:
    get: {operationId: viaHeader, responses: {"200": {description: ok}}}
  /query:
    get:
      operationId: viaQuery
      security: [{queryKey: []}]
      responses: {"200": {description: ok}}
  /cookie:
    get:
      operationId: viaCookie
      security: [{cookieKey: []}]
      responses: {"200": {description: ok}}
  /either:
    get:
      operationId: either
      security: [{headerKey: []}, {queryKey: []}]
      responses: {"200": {description: ok}}
  /bearer:
    get:
      operationId: viaBearer
      security: [{jwt: []}]
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    headerKey: {type: apiKey, in: header, name: X-API-Key}
    queryKey: {type: apiKey, in: query, name: api_key}
    cookieKey: {type: apiKey, in: cookie, name: gh_key}
    jwt: {type: http, scheme: bearer}
`

const otherDoc = `
openapi: 3.0.3
info: {title: Other, version: "1"}
x-gatehouse-base-path: /other
security:
  - headerKey: []
paths:
  /thing:
    get: {operationId: thing, responses: {"200": {description: ok}}}
components:
  securitySchemes:
    headerKey: {type: apiKey, in: header, name: X-API-Key}
`

// staticFixtureKey is a static key listed in bundle data by its SHA-256.
const staticFixtureKey = "legacy-erp-static-key-7f3c9a1e5b2d4c6e8a0b"

func staticData(revoked ...string) string {
	jti := map[string]any{}
	for _, r := range revoked {
		jti[r] = true
	}
	b, _ := json.Marshal(map[string]any{"gatehouse": map[string]any{
		"revocations": map[string]any{"jti": jti},
		"static_api_keys": map[string]any{
			"legacy-erp": map[string]any{
				"sha256": authn.HashAPIKey(staticFixtureKey), "application": "erp",
				"apis": []any{map[string]any{"name": "keys", "version": "1"}},
			},
		},
	}})
	return string(b)
}

// stsKeyFiles returns the token service's signing key (PEM) and, for the
// sts-as-idp issuer, its public JWKS under the service's kid (thumbprint).
func stsKeyFiles(t *testing.T) (keyPEM, publicJWKS string, key crypto.Signer) {
	t.Helper()
	key = authntest.Must(authntest.GenerateKey(authntest.ECDSAP256))
	pub := authntest.Must(jwk.FromRaw(key.Public()))
	kid := base64.RawURLEncoding.EncodeToString(authntest.Must(pub.Thumbprint(crypto.SHA256)))
	signer := authntest.Must(authntest.NewSigner("ES256", authntest.WithSigningKey(key), authntest.WithKID(kid)))
	return string(authntest.Must(authntest.PrivateKeyPEM(key))), string(authntest.Must(authntest.JWKS(signer))), key
}

func keysEnv(t *testing.T) (*env, crypto.Signer) {
	keyPEM, jwks, key := stsKeyFiles(t)
	e := newEnv(t, envOptions{
		config: keysConfig,
		files: map[string]string{
			"keys.yaml":        keysDoc,
			"other.yaml":       otherDoc,
			"sts-key.pem":      keyPEM,
			"sts-public.jwks":  jwks,
			"issuers.yaml":     "users:\n  alice:\n    groups: [apikey-issuers]\n  bob:\n    groups: [staff]\n",
			"bundle/.manifest": `{"revision": "keys-1", "roots": ["gatehouse"]}`,
			"bundle/data.json": staticData(),
		},
	})
	return e, key
}

type issueResponse struct {
	status int
	body   map[string]any
	raw    []byte
	header http.Header
}

// issue posts an issuing request to url with Basic credentials (none when
// user is "").
func issue(t *testing.T, c *http.Client, url, user, pw, body string) issueResponse {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := issueResponse{status: resp.StatusCode, raw: raw, header: resp.Header}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

func (e *env) issueKey(body string) (key, id string) {
	e.t.Helper()
	r := issue(e.t, http.DefaultClient, e.admin+"/apikeys", "alice", testUsers["alice"], body)
	if r.status != http.StatusCreated {
		e.t.Fatalf("issue: %d %s", r.status, r.raw)
	}
	return r.body["key"].(string), r.body["id"].(string)
}

func TestAPIKeyIssueEndpoint(t *testing.T) {
	t.Parallel()
	e, _ := keysEnv(t)
	url := e.admin + "/apikeys"
	alice, bob := testUsers["alice"], testUsers["bob"]
	tests := []struct {
		name, user, pw, body string
		status               int
		detail               string
	}{
		{"ok/issued", "alice", alice, `{"apis": [{"name": "keys", "version": "1"}], "subject": "partner-1", "application": "app-1", "validity": "720h"}`, 201, ""},
		{"ok/default-validity", "alice", alice, `{"apis": [{"name": "other"}], "application": "app-1"}`, 201, ""},
		{"ok/all-apis", "alice", alice, `{"all_apis": true, "subject": "ops"}`, 201, ""},
		{"fail/no-credentials", "", "", `{"all_apis": true, "subject": "x"}`, 401, ""},
		{"fail/wrong-password", "alice", "nope", `{"all_apis": true, "subject": "x"}`, 401, ""},
		{"fail/not-in-group", "bob", bob, `{"all_apis": true, "subject": "x"}`, 403, ""},
		{"fail/over-max-validity", "alice", alice, `{"apis": [{"name": "keys"}], "subject": "x", "validity": "1001h"}`, 400, "exceeds the maximum"},
		{"fail/no-expiry-refused", "alice", alice, `{"apis": [{"name": "keys"}], "subject": "x", "no_expiry": true}`, 400, "not allowed"},
		{"fail/unknown-api", "alice", alice, `{"apis": [{"name": "nope"}], "subject": "x"}`, 400, "no API nope"},
		{"fail/unknown-member", "alice", alice, `{"apis": [{"name": "keys"}], "subject": "x", "admin": true}`, 400, "JSON object"},
		{"fail/not-json", "alice", alice, `apis=keys`, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := issue(t, http.DefaultClient, url, tc.user, tc.pw, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			if tc.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("no Basic challenge: %v", r.header)
			}
			if tc.detail != "" && !strings.Contains(string(r.raw), tc.detail) {
				t.Errorf("body %s lacks %q", r.raw, tc.detail)
			}
			if tc.status != 201 {
				return
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
			}
			key, _ := r.body["key"].(string)
			if key == "" || r.body["id"] == "" || r.body["expires_at"] == nil {
				t.Fatalf("response %s", r.raw)
			}
			if strings.Contains(e.logs.String(), key) {
				t.Fatal("the issued key is in the logs")
			}
		})
	}
	if !strings.Contains(e.logs.String(), `"@message":"api key issued"`) {
		t.Error("issuance is not logged")
	}
	// GET is not an issuing request.
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /apikeys: %d", resp.StatusCode)
	}
}

func keyHdr(k string) http.Header { return hdr("X-API-Key", k) }

func TestAPIKeyValidation(t *testing.T) {
	t.Parallel()
	e, stsKey := keysEnv(t)
	good, _ := e.issueKey(`{"apis": [{"name": "keys", "version": "1"}], "subject": "partner-1", "application": "app-1"}`)
	other, _ := e.issueKey(`{"apis": [{"name": "keys", "version": "1"}], "subject": "partner-2"}`)

	// Keys the token service never issued, signed by hand.
	kid := strings.Split(good, ".")[0]
	hdrJSON, _ := base64.RawURLEncoding.DecodeString(kid)
	var h map[string]any
	_ = json.Unmarshal(hdrJSON, &h)
	stsSigner := authntest.Must(authntest.NewSigner("ES256", authntest.WithSigningKey(stsKey), authntest.WithKID(h["kid"].(string))))
	now := time.Now()
	keyClaims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": stsIssuer, "sub": "forged", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "forged-1",
			"token_use": "gatehouse_api_key", "apis": []any{map[string]any{"name": "*"}}}
		if edit != nil {
			edit(c)
		}
		return c
	}
	mintKey := func(s *authntest.Signer, edit func(map[string]any), opts ...authntest.MintOption) string {
		return authntest.Must(s.Mint(keyClaims(edit), append([]authntest.MintOption{authntest.WithTyp(authn.APIKeyTyp)}, opts...)...))
	}
	attacker := authntest.Must(authntest.NewSigner("ES256", authntest.WithKID(h["kid"].(string))))
	expired := mintKey(stsSigner, func(c map[string]any) {
		c["exp"] = now.Add(-time.Hour).Unix()
		c["iat"] = now.Add(-2 * time.Hour).Unix()
	})
	wrongIss := mintKey(stsSigner, func(c map[string]any) { c["iss"] = "https://evil.test/" })
	accessToken := e.token(nil)
	plainSTSJWT := authntest.Must(stsSigner.Mint(keyClaims(func(c map[string]any) { delete(c, "token_use") })))

	cookie := func(v string) http.Header { return hdr("Cookie", "theme=dark; gh_key="+v) }
	tests := []struct {
		name     string
		path     string
		header   http.Header
		status   int
		upstream bool
	}{
		{"ok/header", "/keys/header", keyHdr(good), 200, true},
		{"ok/query", "/keys/query?api_key=" + good + "&color=red", nil, 200, true},
		{"ok/cookie", "/keys/cookie", cookie(good), 200, true},
		{"ok/either-header", "/keys/either", keyHdr(good), 200, true},
		{"ok/either-query", "/keys/either?api_key=" + good, nil, 200, true},
		{"ok/either-same-key-twice", "/keys/either?api_key=" + good, keyHdr(good), 200, true},
		{"ok/static-key", "/keys/header", keyHdr(staticFixtureKey), 200, true},
		{"fail/static-key-other-api", "/other/thing", keyHdr(staticFixtureKey), 403, false},
		{"fail/other-api", "/other/thing", keyHdr(good), 403, false},
		{"fail/missing", "/keys/header", nil, 401, false},
		{"fail/wrong-location-query", "/keys/header?api_key=" + good, nil, 401, false},
		{"fail/wrong-location-header", "/keys/query", keyHdr(good), 401, false},
		{"fail/two-headers", "/keys/header", hdr("X-API-Key", good, "X-API-Key", other), 401, false},
		{"fail/two-query", "/keys/query?api_key=" + good + "&api_key=" + other, nil, 401, false},
		{"fail/header-and-query-different", "/keys/either?api_key=" + other, keyHdr(good), 401, false},
		{"fail/tampered", "/keys/header", keyHdr(authntest.TamperSignature(good)), 401, false},
		{"fail/tampered-payload", "/keys/header", keyHdr(authntest.TamperPayload(good, keyClaims(nil))), 401, false},
		{"fail/forged-other-key", "/keys/header", keyHdr(mintKey(attacker, nil)), 401, false},
		{"fail/expired", "/keys/header", keyHdr(expired), 401, false},
		{"fail/wrong-issuer", "/keys/header", keyHdr(wrongIss), 401, false},
		{"fail/access-token-as-api-key", "/keys/header", keyHdr(accessToken), 401, false},
		{"fail/sts-signed-jwt-without-marker", "/keys/header", keyHdr(plainSTSJWT), 401, false},
		{"fail/api-key-as-bearer", "/keys/bearer", bearer(good), 401, false},
		{"ok/plain-sts-jwt-as-bearer", "/keys/bearer", bearer(plainSTSJWT), 200, true},
		{"fail/garbage", "/keys/header", keyHdr("garbage"), 401, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.upstream.count()
			r := e.do("GET", tc.path, tc.header)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if called := e.upstream.count() > before; called != tc.upstream {
				t.Fatalf("upstream called = %v", called)
			}
			if r.status >= 400 {
				assertProblem(t, r)
			}
		})
	}
}

// The key never reaches the upstream: not the header, not the query
// parameter (other parameters kept byte for byte), not the cookie (other
// cookies kept).
func TestAPIKeyStrippedBeforeUpstream(t *testing.T) {
	t.Parallel()
	e, _ := keysEnv(t)
	key, _ := e.issueKey(`{"apis": [{"name": "keys"}], "subject": "p"}`)
	cases := []struct {
		name, path string
		header     http.Header
		query      string
	}{
		{"ok/header", "/keys/header?x=1", keyHdr(key), "x=1"},
		{"ok/query", "/keys/query?color=red&api_key=" + key + "&size=L%20XL", nil, "color=red&size=L%20XL"},
		{"ok/query-encoded-name", "/keys/query?api%5Fkey=" + key + "&a=b", nil, "a=b"},
		{"ok/cookie", "/keys/cookie", hdr("Cookie", "theme=dark; gh_key="+key+"; lang=en"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.doWith(e.client1, "GET", tc.path, tc.header)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			got := e.upstream.last()
			if got.Query != tc.query {
				t.Errorf("upstream query %q, want %q", got.Query, tc.query)
			}
			for name, vals := range got.Header {
				for _, v := range vals {
					if strings.Contains(v, key) {
						t.Errorf("upstream header %s carries the key", name)
					}
				}
			}
			if strings.HasSuffix(tc.name, "cookie") && got.Header.Get("Cookie") != "theme=dark; lang=en" {
				t.Errorf("upstream Cookie %q", got.Header.Get("Cookie"))
			}
			if got.Header.Get("X-JWT-Assertion") == "" {
				t.Error("no identity assertion")
			}
		})
	}
}

// A jti added to the bundle's revocations denies the key after one data
// reload; a static key is revoked by its id the same way.
func TestAPIKeyRevocation(t *testing.T) {
	t.Parallel()
	e, _ := keysEnv(t)
	key, id := e.issueKey(`{"apis": [{"name": "keys"}], "subject": "p"}`)
	for _, k := range []string{key, staticFixtureKey} {
		if r := e.do("GET", "/keys/header", keyHdr(k)); r.status != 200 {
			t.Fatalf("before revocation: %d", r.status)
		}
	}
	e.write("bundle/data.json", staticData(id, "legacy-erp"))
	if err := e.srv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{key, staticFixtureKey} {
		r := e.do("GET", "/keys/header", keyHdr(k))
		if r.status != 401 {
			t.Fatalf("after revocation: %d, want 401", r.status)
		}
	}
	// Malformed static keys fail the reload; the previous data keeps deciding.
	e.write("bundle/data.json", `{"gatehouse": {"static_api_keys": {"bad": {"sha256": "abc", "apis": []}}}}`)
	if err := e.srv.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "static_api_keys") {
		t.Fatalf("reload with malformed static keys: %v", err)
	}
	if r := e.do("GET", "/keys/header", keyHdr(key)); r.status != 401 {
		t.Fatalf("after failed reload: %d", r.status)
	}
}

// A second gateway that has only the published JWKS (no private key, no
// endpoint) validates keys the first one issued.
func TestAPIKeyReplicaWithJWKSOnly(t *testing.T) {
	t.Parallel()
	e, _ := keysEnv(t)
	key, _ := e.issueKey(`{"apis": [{"name": "keys", "version": "1"}], "subject": "p"}`)
	jwks := get(t, e.admin+"/.well-known/apikeys-jwks.json")
	if strings.Contains(jwks, `"d"`) {
		t.Fatal("the published JWKS holds private key material")
	}
	replicaConfig := strings.NewReplacer(
		"  signing_key_file: sts-key.pem\n", "  verification_jwks_files: [sts.jwks]\n",
		"  endpoint:\n    basic_users_file: users.htpasswd\n    basic_users_meta_file: issuers.yaml\n", "",
	).Replace(keysConfig)
	if replicaConfig == keysConfig {
		t.Fatal("replica config unchanged")
	}
	_, stsJWKS, _ := stsKeyFiles(t)
	r := newEnv(t, envOptions{config: replicaConfig, files: map[string]string{
		"keys.yaml": keysDoc, "other.yaml": otherDoc, "sts.jwks": jwks, "sts-public.jwks": stsJWKS,
		"bundle/.manifest": `{"revision": "replica-1", "roots": ["gatehouse"]}`, "bundle/data.json": staticData(),
	}})
	if resp := r.do("GET", "/keys/header", keyHdr(key)); resp.status != 200 {
		t.Fatalf("replica: %d %s", resp.status, resp.body)
	}
	if resp := r.do("GET", "/other/thing", keyHdr(key)); resp.status != 403 {
		t.Fatalf("replica, other API: %d", resp.status)
	}
	if got := issue(t, http.DefaultClient, r.admin+"/apikeys", "alice", testUsers["alice"], `{"all_apis": true, "subject": "x"}`); got.status != 404 {
		t.Fatalf("replica issuing endpoint: %d", got.status)
	}
	if !bytes.Equal([]byte(get(t, r.admin+"/.well-known/apikeys-jwks.json")), []byte(jwks)) {
		t.Error("the replica publishes other keys")
	}
}

// No key, issued or static, valid or not, appears in any log line.
func TestAPIKeyLogsHoldNoKeys(t *testing.T) {
	t.Parallel()
	e, _ := keysEnv(t)
	key, _ := e.issueKey(`{"apis": [{"name": "keys"}], "subject": "p"}`)
	keys := []string{key, staticFixtureKey, authntest.TamperSignature(key), "unknown-key-material-123456"}
	for _, k := range keys {
		e.do("GET", "/keys/header", keyHdr(k))
		e.do("GET", "/keys/query?api_key="+k, nil)
		e.do("GET", "/keys/cookie", hdr("Cookie", "gh_key="+k))
		e.do("GET", "/other/thing", keyHdr(k))
		e.do("GET", "/keys/bearer", bearer(k))
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"@message":"request"`) {
		t.Fatal("no audit lines")
	}
	for i, k := range keys {
		secrets := []string{k}
		if parts := strings.Split(k, "."); len(parts) == 3 {
			secrets = append(secrets, parts[2]) // the signature alone
		}
		for _, s := range secrets {
			if strings.Contains(logs, s) {
				t.Errorf("logs contain key #%d", i)
			}
		}
	}
	if m := get(t, e.admin+"/metrics"); strings.Contains(m, key) || strings.Contains(m, staticFixtureKey) {
		t.Error("metrics contain a key")
	}
}

// The issuing endpoint on its own TLS listener, for CI callers with client
// certificates (and Basic as well).
func TestAPIKeyEndpointDedicatedMTLS(t *testing.T) {
	t.Parallel()
	keyPEM, jwks, _ := stsKeyFiles(t)
	issuersCA := authntest.Must(authntest.NewCA(authntest.WithCommonName("Key Issuers CA")))
	config := strings.Replace(keysConfig, `  endpoint:
    basic_users_file: users.htpasswd`, `  endpoint:
    listen: 127.0.0.1:0
    tls: {cert_file: server.pem, key_file: server-key.pem, min_version: "1.3"}
    client_ca_files: [issuers-ca.pem]
    allowed_common_names: [ci-pipeline]
    basic_users_file: users.htpasswd`, 1)
	e := newEnv(t, envOptions{config: config, files: map[string]string{
		"keys.yaml": keysDoc, "other.yaml": otherDoc, "sts-key.pem": keyPEM, "sts-public.jwks": jwks,
		"issuers-ca.pem":   string(issuersCA.Cert.CertPEM()),
		"issuers.yaml":     "users:\n  alice:\n    groups: [apikey-issuers]\n",
		"bundle/.manifest": `{"revision": "keys-1", "roots": ["gatehouse"]}`, "bundle/data.json": staticData(),
	}})
	addr := e.srv.APIKeysAddr()
	if addr == nil {
		t.Fatal("no dedicated listener")
	}
	url := "https://" + addr.String() + "/apikeys"
	clientWith := func(c *authntest.Cert) *http.Client {
		tr := e.client1.Transport.(*http.Transport).Clone()
		if c != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{c.TLS()}
		}
		cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		t.Cleanup(cl.CloseIdleConnections)
		return cl
	}
	ci := clientWith(authntest.Must(issuersCA.Client("ci-pipeline")))
	otherCN := clientWith(authntest.Must(issuersCA.Client("someone-else")))
	noCert := clientWith(nil)
	body := `{"apis": [{"name": "keys"}], "subject": "from-ci"}`
	tests := []struct {
		name     string
		client   *http.Client
		user, pw string
		status   int
	}{
		{"ok/client-certificate", ci, "", "", 201},
		{"ok/basic-without-certificate", noCert, "alice", testUsers["alice"], 201},
		{"fail/certificate-not-allowed", otherCN, "", "", 403},
		{"fail/no-credentials", noCert, "", "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := issue(t, tc.client, url, tc.user, tc.pw, body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			if tc.status == 201 {
				if resp := e.do("GET", "/keys/header", keyHdr(r.body["key"].(string))); resp.status != 200 {
					t.Fatalf("issued key: %d", resp.status)
				}
			}
		})
	}
	t.Run("fail/certificate-of-another-ca", func(t *testing.T) {
		stranger := authntest.Must(authntest.Must(authntest.NewCA()).Client("ci-pipeline")).TLS()
		cl := clientWith(nil)
		// Sent whatever CAs the server names, so the handshake must refuse it.
		cl.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &stranger, nil
		}
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		if resp, err := cl.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("a certificate of another CA got an answer: %d", resp.StatusCode)
		}
	})
	// Not on the admin listener; the JWKS is on both.
	if r := issue(t, http.DefaultClient, e.admin+"/apikeys", "alice", testUsers["alice"], body); r.status != 404 {
		t.Errorf("admin /apikeys: %d", r.status)
	}
	resp, err := noCert.Get("https://" + addr.String() + "/.well-known/apikeys-jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("dedicated JWKS: %d", resp.StatusCode)
	}
}

// With api_keys.subscription_validation, the subscription rules apply to
// API keys through their application: issued and static keys alike.
func TestAPIKeySubscriptions(t *testing.T) {
	t.Parallel()
	keyPEM, jwks, _ := stsKeyFiles(t)
	config := strings.Replace(keysConfig, "  max_validity: 1000h\n", "  max_validity: 1000h\n  subscription_validation: true\n", 1)
	data, _ := json.Marshal(map[string]any{"gatehouse": map[string]any{
		// Keyed by source: issued keys are api_keys', static ones
		// static_api_keys'. erp is subscribed to keys only as an issued
		// key's application, which the static key's erp is not.
		"subscriptions": map[string]any{
			"api_keys": map[string]any{
				"app-1": []any{map[string]any{"api": "keys", "version": "1", "plan": "gold"}},
				"erp":   []any{map[string]any{"api": "keys"}},
			},
			"static_api_keys": map[string]any{"erp": []any{map[string]any{"api": "other"}}},
		},
		"static_api_keys": map[string]any{"legacy-erp": map[string]any{
			"sha256": authn.HashAPIKey(staticFixtureKey), "application": "erp", "apis": []any{map[string]any{"name": "*"}},
		}},
	}})
	e := newEnv(t, envOptions{config: config, files: map[string]string{
		"keys.yaml": keysDoc, "other.yaml": otherDoc, "sts-key.pem": keyPEM, "sts-public.jwks": jwks,
		"issuers.yaml":     "users:\n  alice:\n    groups: [apikey-issuers]\n",
		"bundle/.manifest": `{"revision": "subs-1", "roots": ["gatehouse"]}`, "bundle/data.json": string(data),
	}})
	subscribed, _ := e.issueKey(`{"all_apis": true, "application": "app-1"}`)
	unsubscribed, _ := e.issueKey(`{"all_apis": true, "application": "app-2"}`)
	noApp, _ := e.issueKey(`{"all_apis": true, "subject": "someone"}`)
	tests := []struct {
		name, path, key string
		status          int
	}{
		{"ok/subscribed", "/keys/header", subscribed, 200},
		{"fail/subscribed-to-another-api", "/other/thing", subscribed, 403},
		{"fail/not-subscribed", "/keys/header", unsubscribed, 403},
		{"fail/no-application", "/keys/header", noApp, 403},
		{"ok/static-subscribed", "/other/thing", staticFixtureKey, 200},
		{"fail/static-not-subscribed", "/keys/header", staticFixtureKey, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.do("GET", tc.path, keyHdr(tc.key)); r.status != tc.status {
				t.Fatalf("status %d, want %d", r.status, tc.status)
			}
		})
	}
	if !strings.Contains(e.logs.String(), "subscription_required") {
		t.Error("audit lines do not name subscription_required")
	}
}
