package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// Benchmarks of the request path with real pieces: a generated PKI and
// RS256 issuer key, a config file in a temp dir, the embedded base policy,
// an OpenAPI document of a realistic size, and a loopback upstream. They
// measure; they never assert timings (`make bench-go`).

const (
	benchIss      = "https://idp.bench.local/"
	benchAudience = "store"
	benchBase     = "/store/v2"
	benchUser     = "alice"
	benchPassword = "correct horse battery staple"
)

// benchOp is one operation of the benchmark API; sec is its security:
// nil = the document's (a JWT with read:store), "public", "write", "basic",
// "jwt-or-basic".
type benchOp struct {
	method, path, id, sec string
}

var benchOps = []benchOp{
	{"GET", "/health", "health", "public"},
	{"GET", "/pets", "listPets", ""},
	{"POST", "/pets", "createPet", "write"},
	{"GET", "/pets/{petId}", "getPet", ""},
	{"PUT", "/pets/{petId}", "updatePet", "write"},
	{"DELETE", "/pets/{petId}", "deletePet", "basic"},
	{"GET", "/pets/{petId}/photos", "listPhotos", ""},
	{"POST", "/pets/{petId}/photos", "addPhoto", "write"},
	{"GET", "/pets/{petId}/photos/{photoId}", "getPhoto", ""},
	{"DELETE", "/pets/{petId}/photos/{photoId}", "deletePhoto", "write"},
	{"GET", "/pets/{petId}/vaccinations", "listVaccinations", ""},
	{"GET", "/owners", "listOwners", "jwt-or-basic"},
	{"POST", "/owners", "createOwner", "write"},
	{"GET", "/owners/{ownerId}", "getOwner", "jwt-or-basic"},
	{"PATCH", "/owners/{ownerId}", "updateOwner", "write"},
	{"GET", "/owners/{ownerId}/pets", "listOwnerPets", ""},
	{"GET", "/stores", "listStores", "public"},
	{"GET", "/stores/{storeId}", "getStore", ""},
	{"GET", "/stores/{storeId}/orders", "listOrders", ""},
	{"POST", "/stores/{storeId}/orders", "placeOrder", "write"},
	{"GET", "/stores/{storeId}/orders/{orderId}", "getOrder", ""},
	{"DELETE", "/stores/{storeId}/orders/{orderId}", "cancelOrder", "write"},
	{"GET", "/stores/{storeId}/orders/{orderId}/items/{itemId}", "getOrderItem", ""},
	{"GET", "/inventory", "getInventory", "basic"},
	{"GET", "/search", "search", ""},
}

// benchOpenAPI renders benchOps as an OpenAPI 3.1 document (JSON is YAML).
func benchOpenAPI() []byte {
	paths := map[string]map[string]any{}
	for _, o := range benchOps {
		item := paths[o.path]
		if item == nil {
			item = map[string]any{}
			var params []any
			for _, seg := range strings.Split(o.path, "/") {
				if strings.HasPrefix(seg, "{") {
					params = append(params, map[string]any{
						"name": strings.Trim(seg, "{}"), "in": "path", "required": true,
						"schema": map[string]any{"type": "string"},
					})
				}
			}
			if params != nil {
				item["parameters"] = params
			}
			paths[o.path] = item
		}
		op := map[string]any{
			"operationId": o.id,
			"responses":   map[string]any{"200": map[string]any{"description": "ok"}},
		}
		switch o.sec {
		case "public":
			op["security"] = []any{}
		case "write":
			op["security"] = []any{map[string]any{"storeJWT": []any{"write:store"}}}
		case "basic":
			op["security"] = []any{map[string]any{"basicAuth": []any{}}}
		case "jwt-or-basic":
			op["security"] = []any{
				map[string]any{"storeJWT": []any{"read:store"}},
				map[string]any{"basicAuth": []any{}},
			}
		}
		item[strings.ToLower(o.method)] = op
	}
	doc := map[string]any{
		"openapi":               "3.1.0",
		"info":                  map[string]any{"title": "Bench Store", "version": "2.3.0"},
		"x-gatehouse-base-path": benchBase,
		"security":              []any{map[string]any{"storeJWT": []any{"read:store"}}},
		"paths":                 paths,
		"components": map[string]any{"securitySchemes": map[string]any{
			"storeJWT":  map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
			"basicAuth": map[string]any{"type": "http", "scheme": "basic"},
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

// benchEnv is a config directory with everything it references, and the
// credentials that pass it.
type benchEnv struct {
	dir      string
	signer   *authntest.Signer
	token    string // RS256, read:store write:store
	basic    string // Authorization value for alice
	upstream *httptest.Server
}

func newBenchEnv(b *testing.B) *benchEnv { return newBenchEnvAlg(b, "RS256") }

// newBenchEnvAlg is newBenchEnv with an issuer key of another algorithm.
func newBenchEnvAlg(b *testing.B, alg string) *benchEnv {
	b.Helper()
	dir := b.TempDir()
	e := &benchEnv{dir: dir}
	ca, err := authntest.NewCA()
	if err != nil {
		b.Fatal(err)
	}
	srv, err := ca.Server()
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := srv.WriteFiles(dir, "server"); err != nil {
		b.Fatal(err)
	}
	e.signer, err = authntest.NewSigner(alg, authntest.WithKID("bench-1"))
	if err != nil {
		b.Fatal(err)
	}
	jwks, err := authntest.JWKS(e.signer)
	if err != nil {
		b.Fatal(err)
	}
	htp, err := authntest.Htpasswd(map[string]string{benchUser: benchPassword}, 0)
	if err != nil {
		b.Fatal(err)
	}
	files := map[string][]byte{
		"issuer-jwks.json": jwks,
		"store.json":       benchOpenAPI(),
		"users.htpasswd":   htp,
		"users.yaml":       []byte("users:\n  alice:\n    scopes: [read:store]\n    groups: [staff]\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	e.token = e.mint(b)
	e.basic = "Basic " + base64.StdEncoding.EncodeToString([]byte(benchUser+":"+benchPassword))
	e.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	}))
	b.Cleanup(e.upstream.Close)
	return e
}

// mint returns a fresh access token (a new jti each call).
func (e *benchEnv) mint(b *testing.B) string {
	c := authntest.Claims(benchIss, benchAudience, time.Now(), time.Hour)
	c["scope"] = "read:store write:store"
	c["client_id"] = "bench-app"
	tok, err := e.signer.Mint(c)
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// config writes a gatehouse.yaml; jwtCacheTTL is the bearer scheme's
// cache_ttl ("" for the default).
func (e *benchEnv) config(b *testing.B, name, jwtCacheTTL string) string {
	b.Helper()
	ttl := ""
	if jwtCacheTTL != "" {
		ttl = ", cache_ttl: " + jwtCacheTTL
	}
	cfg := fmt.Sprintf(`listen:
  address: 127.0.0.1:0
  tls: {cert_file: server.pem, key_file: server-key.pem}
admin:
  address: ""
apis:
  - openapi: store.json
    upstream: %s
schemes:
  storeJWT: {type: bearer, issuers: [corp]%s}
  basicAuth: {type: basic, users_file: users.htpasswd, users_meta_file: users.yaml, realm: store}
issuers:
  - name: corp
    issuer: %s
    jwks_file: issuer-jwks.json
    audiences: [%s]
log:
  level: info
  format: json
`, e.upstream.URL, ttl, benchIss, benchAudience)
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	return p
}

func (e *benchEnv) generation(b *testing.B, jwtCacheTTL string) *Generation {
	b.Helper()
	cfg, err := config.Load(e.config(b, "gen-"+strings.ReplaceAll(jwtCacheTTL, ".", "_")+".yaml", jwtCacheTTL))
	if err != nil {
		b.Fatal(err)
	}
	return benchGeneration(b, cfg)
}

// benchGeneration builds a generation from cfg, closed when the benchmark
// ends.
func benchGeneration(b *testing.B, cfg *config.Config) *Generation {
	b.Helper()
	g, err := BuildGeneration(context.Background(), cfg, BuildOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = g.Close() })
	return g
}

// server is the whole gateway with its default logging: JSON audit lines at
// info, written (and so fully formatted) to io.Discard by the audit writer
// `gatehouse run` uses.
func (e *benchEnv) server(b *testing.B) *Server { return e.serverWith(b, "") }

// serverWith is server with the bearer scheme's cache_ttl ("" for the
// default).
func (e *benchEnv) serverWith(b *testing.B, jwtCacheTTL string) *Server {
	b.Helper()
	p := e.config(b, "gatehouse-"+strings.ReplaceAll(jwtCacheTTL, ".", "_")+".yaml", jwtCacheTTL)
	cfg, err := config.Load(p)
	if err != nil {
		b.Fatal(err)
	}
	// AuditOutput as `gatehouse run` sets it (os.Stderr there): the audit
	// lines then go through the gateway's own JSON writer, not hclog.
	s, err := New(context.Background(), p, Options{Logger: NewLogger(cfg.Log, io.Discard), AuditOutput: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

// benchRequest is a request as the server hands it to the handler: TLS,
// a remote address, a few ordinary headers.
func benchRequest(method, path, authorization string) *http.Request {
	r := httptest.NewRequest(method, "https://api.bench.local"+path, nil)
	r.RemoteAddr = "192.0.2.10:40312"
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", "bench/1.0")
	r.Header.Set("Accept-Encoding", "gzip")
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return r
}

func BenchmarkRouteMatch(b *testing.B) {
	e := newBenchEnv(b)
	g := e.generation(b, "")
	var reqs []*http.Request
	for _, o := range benchOps {
		p := strings.NewReplacer("{petId}", "42", "{photoId}", "7", "{ownerId}", "u-19",
			"{storeId}", "s1", "{orderId}", "o-2024-0001", "{itemId}", "3").Replace(o.path)
		reqs = append(reqs, benchRequest(o.method, benchBase+p, ""))
	}
	for i, r := range reqs {
		op, err := g.Routes.Match(r)
		if err != nil || op.ID != benchOps[i].id {
			b.Fatalf("%s %s: matched %v, %v", r.Method, r.URL.Path, op, err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := g.Routes.Match(reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDecision is the prepared policy query alone, for the input the
// pipeline builds for an allowed request with one JWT.
func BenchmarkDecision(b *testing.B) {
	e := newBenchEnv(b)
	g := e.generation(b, "")
	r := benchRequest("GET", benchBase+"/pets/42", "Bearer "+e.token)
	ev := g.Evaluate(r, "bench-req-1", time.Now())
	if ev.Status != 0 || ev.Decision == nil || !ev.Decision.Allow {
		b.Fatalf("not allowed: status %d reason %q failure %v", ev.Status, ev.Reason, ev.Failure)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := g.Engine.Decide(ctx, ev.Input())
		if err != nil || !d.Allow {
			b.Fatal(d, err)
		}
	}
}

// BenchmarkEvaluate is route + authenticators + input + policy per request.
// jwt-uncached runs with the bearer scheme's cache_ttl at 1ns: every lookup
// misses, so each request pays SHA-256, the lookup, and full RS256
// verification, as a first-seen token does.
func BenchmarkEvaluate(b *testing.B) {
	e := newBenchEnv(b)
	cached := e.generation(b, "")
	uncached := e.generation(b, "1ns")
	// The same generation without its decision cache: every request builds
	// the policy input and evaluates Rego.
	noDecisionCache := e.generation(b, "")
	noDecisionCache.Decisions = nil
	cases := []struct {
		name string
		g    *Generation
		r    *http.Request
	}{
		{"jwt-cached", cached, benchRequest("GET", benchBase+"/pets/42", "Bearer "+e.token)},
		{"jwt-cached-no-decision-cache", noDecisionCache, benchRequest("GET", benchBase+"/pets/42", "Bearer "+e.token)},
		{"jwt-uncached", uncached, benchRequest("GET", benchBase+"/pets/42", "Bearer "+e.token)},
		{"basic-cached", cached, benchRequest("GET", benchBase+"/owners/u-19", e.basic)},
		{"public", cached, benchRequest("GET", benchBase+"/health", "")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			now := time.Now()
			if ev := c.g.Evaluate(c.r, "bench-req-1", now); ev.Status != 0 {
				b.Fatalf("not allowed: status %d reason %q failure %v", ev.Status, ev.Reason, ev.Failure)
			}
			b.ReportAllocs()
			for b.Loop() {
				if ev := c.g.Evaluate(c.r, "bench-req-1", now); ev.Status != 0 {
					b.Fatal(ev.Status, ev.Reason)
				}
			}
		})
	}
}

// BenchmarkPipeline is Server.ServeHTTP end to end: request id, evaluation,
// identity assertion, reverse proxy to a loopback upstream, metrics and the
// audit line.
//
// jwt-first-seen runs with the bearer scheme's cache_ttl at 1ns: every
// request verifies the RS256 token again, builds a new identity and so
// misses the decision cache too, as a token the gateway has not seen does
// (its principal, and so its identity assertion, stays the same).
func BenchmarkPipeline(b *testing.B) {
	e := newBenchEnv(b)
	s := e.server(b)
	fresh := e.serverWith(b, "1ns")
	// bare is the floor every case shares: httputil.ReverseProxy with the
	// gateway's upstream settings, to the same in-process upstream (whose
	// allocations every case counts too), checking nothing.
	target, err := url.Parse(e.upstream.URL)
	if err != nil {
		b.Fatal(err)
	}
	bare := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: &http.Transport{MaxIdleConnsPerHost: 256},
	}
	cases := []struct {
		name string
		s    http.Handler
		r    *http.Request
	}{
		{"bare-proxy", bare, benchRequest("GET", benchBase+"/pets/42", "Bearer "+e.token)},
		{"jwt-cached", s, benchRequest("GET", benchBase+"/pets/42", "Bearer "+e.token)},
		{"jwt-first-seen", fresh, benchRequest("GET", benchBase+"/pets/42", "Bearer "+e.token)},
		{"public", s, benchRequest("GET", benchBase+"/health", "")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			serve := func() {
				rec := httptest.NewRecorder()
				c.s.ServeHTTP(rec, c.r)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
				}
			}
			serve()
			b.ReportAllocs()
			for b.Loop() {
				serve()
			}
		})
	}
}

// BenchmarkInput is building the policy input alone, for the allowed
// single-JWT request of BenchmarkDecision.
func BenchmarkInput(b *testing.B) {
	e := newBenchEnv(b)
	g := e.generation(b, "")
	r := benchRequest("GET", benchBase+"/pets/42", "Bearer "+e.token)
	now := time.Now()
	ev := g.Evaluate(r, "bench-req-1", now)
	if ev.Status != 0 {
		b.Fatalf("not allowed: status %d reason %q", ev.Status, ev.Reason)
	}
	in := pipeline.Input{RequestID: "bench-req-1", Request: r, Path: r.URL.Path, ClientIP: pipeline.ClientIP(r), Op: &ev.Op.Input, Now: now,
		Outcomes: ev.Outcomes}
	if in.Value().Compare(ev.Input()) != 0 {
		b.Fatal("input differs from the pipeline's")
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = in.Value()
	}
}

// BenchmarkAudit is the per-request bookkeeping after the answer: metrics,
// and the JSON audit line (on by default) written to io.Discard.
func BenchmarkAudit(b *testing.B) {
	e := newBenchEnv(b)
	s := e.server(b)
	g := s.Generation()
	r := benchRequest("GET", benchBase+"/pets/42", "Bearer "+e.token)
	ev := g.Evaluate(r, "bench-req-1", time.Now())
	rec := &recorder{ResponseWriter: httptest.NewRecorder(), status: http.StatusOK, requestID: "bench-req-1"}
	slow := s.audit
	fast := audit.New("gatehouse.audit", io.Discard)
	defer fast.Close()
	for _, c := range []struct {
		name  string
		slow  hclog.Logger
		quick *audit.Log
	}{{"hclog-json", slow, nil}, {"fast-json", slow, fast}, {"off", nil, nil}} {
		b.Run(c.name, func(b *testing.B) {
			s.audit, s.auditFast = c.slow, c.quick
			start := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				s.finish(rec, g, ev, start)
			}
		})
	}
	s.audit, s.auditFast = slow, nil
}
