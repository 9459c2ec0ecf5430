package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"sigs.k8s.io/yaml"

	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/gateway"
)

// The end-to-end harness: a real gateway (gateway.New + Start) on loopback
// with TLS from a generated PKI, a recording upstream, a JWT issuer key whose
// JWKS is written to a file, Basic users, and the real embedded policy. Logs
// are captured so tests can prove no secret reaches them.

const (
	testIssuer   = "https://issuer.test/"
	testAudience = "shapes"
)

// testUsers are the Basic users every env has.
var testUsers = map[string]string{"alice": "alice-secret-pw", "bob": "bob-secret-pw"}

type env struct {
	t        *testing.T
	dir      string
	ca       *authntest.CA
	signer   *authntest.Signer // RS256, kid in issuer.jwks
	srv      *gateway.Server
	upstream *recordingUpstream
	client   *http.Client
	client1  *http.Client // HTTP/1.1 only, for headers HTTP/2 forbids
	logs     *syncBuffer
	repl     *strings.Replacer
	base     string // https://127.0.0.1:port
	admin    string // http://127.0.0.1:port
}

// envOptions shape a test environment.
type envOptions struct {
	// config is the gateway YAML; ${DIR} and ${UPSTREAM} are replaced.
	config string
	// files are written into the env dir before start (name → content, with
	// the same replacements).
	files map[string]string
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), logs: &syncBuffer{}}
	e.ca = authntest.Must(authntest.NewCA())
	srvCert := authntest.Must(e.ca.Server("localhost", "127.0.0.1"))
	if _, _, err := srvCert.WriteFiles(e.dir, "server"); err != nil {
		t.Fatal(err)
	}
	e.signer = authntest.Must(authntest.NewSigner("RS256", authntest.WithKID("k1")))
	e.write("issuer.jwks", string(authntest.Must(authntest.JWKS(e.signer))))
	e.write("users.htpasswd", string(authntest.Must(authntest.Htpasswd(testUsers, 0))))
	e.write("users.yaml", "users:\n  alice:\n    scopes: [read, write]\n    groups: [staff]\n  bob:\n    scopes: [read]\n")

	e.upstream = newRecordingUpstream(t)
	e.repl = strings.NewReplacer("${DIR}", e.dir, "${UPSTREAM}", e.upstream.URL)
	for name, content := range o.files {
		e.write(name, content)
	}
	e.write("gatehouse.yaml", o.config)

	log := hclog.New(&hclog.LoggerOptions{Output: e.logs, JSONFormat: true, Level: hclog.Trace})
	ctx := context.Background()
	srv, err := gateway.New(ctx, filepath.Join(e.dir, "gatehouse.yaml"), gateway.Options{Logger: log, AuditOutput: e.logs})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	e.srv = srv
	e.logs.flush = srv.FlushAudit
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	if a := srv.Addr(); a != nil {
		e.base = "https://" + a.String()
	} else if a := srv.PlainAddr(); a != nil {
		e.base = "http://" + a.String()
	}
	if a := srv.AdminAddr(); a != nil {
		e.admin = "http://" + a.String()
	}
	pool := x509.NewCertPool()
	pool.AddCert(e.ca.Certificate)
	e.client = &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: "localhost"},
			ForceAttemptHTTP2: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       20 * time.Second,
	}
	e.client1 = &http.Client{
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"},
			TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
		},
		CheckRedirect: e.client.CheckRedirect,
		Timeout:       20 * time.Second,
	}
	t.Cleanup(e.client.CloseIdleConnections)
	t.Cleanup(e.client1.CloseIdleConnections)
	return e
}

// write writes a file into the env dir, replacing ${DIR} and ${UPSTREAM}.
func (e *env) write(name, content string) {
	e.t.Helper()
	if e.repl != nil {
		content = e.repl.Replace(content)
	}
	if name == "gatehouse.yaml" {
		content = withTestDecisionTimeout(e.t, content)
	}
	p := filepath.Join(e.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// withTestDecisionTimeout gives a test config a generous policy deadline
// unless it sets one itself. The 100 ms default is for production; under
// -race on a loaded CI machine an ordinary decision can take longer, and a
// test about something else must not fail closed because of it. Tests about
// the deadline set policy.decision_timeout explicitly.
func withTestDecisionTimeout(t *testing.T, content string) string {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(content), &doc); err != nil || doc == nil {
		return content // invalid on purpose: let the gateway report it
	}
	pol, _ := doc["policy"].(map[string]any)
	if pol == nil {
		pol = map[string]any{}
	}
	if _, set := pol["decision_timeout"]; set {
		return content
	}
	pol["decision_timeout"] = "10s"
	doc["policy"] = pol
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// token mints an RS256 token from the env's issuer; edit adjusts claims.
func (e *env) token(edit func(c map[string]any), opts ...authntest.MintOption) string {
	e.t.Helper()
	c := authntest.Claims(testIssuer, testAudience, time.Now(), time.Hour)
	c["scope"] = "read"
	c["client_id"] = "app-1"
	if edit != nil {
		edit(c)
	}
	tok, err := e.signer.Mint(c, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// poll calls cond every interval until it holds and returns how long that
// took; after within (generous, never a timing assertion) it fails t.
func poll(t *testing.T, what string, within, interval time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(interval)
	}
	return time.Since(start)
}

// eventually polls cond until it holds (15 s at most).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll(t, what, 15*time.Second, 50*time.Millisecond, cond)
}

// waitFor polls until cond holds (10 s at most) and returns how long it
// took; the short interval makes the duration a fair reload latency.
func (e *env) waitFor(what string, cond func() bool) time.Duration {
	e.t.Helper()
	return poll(e.t, what, 10*time.Second, 2*time.Millisecond, cond)
}

// underLoad runs workers goroutines, each calling request(worker) over and
// over; the returned stop ends the loops and waits for them.
func underLoad(workers int, request func(worker int)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				request(i)
			}
		}()
	}
	return func() {
		close(done)
		wg.Wait()
	}
}

// readyz is the admin /readyz document: local reloads and remote bundles.
type readyz struct {
	Status     string `json:"status"`
	Revision   string `json:"bundle_revision"`
	LastReload struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"last_reload"`
	Remote map[string]struct {
		Revision  string `json:"revision"`
		From      string `json:"from"`
		LastError string `json:"last_error"`
		Failures  int    `json:"failures"`
		Unchanged int    `json:"unchanged"`
	} `json:"remote_bundles"`
}

func (e *env) readyz() readyz {
	e.t.Helper()
	var r readyz
	if err := json.Unmarshal([]byte(get(e.t, e.admin+"/readyz")), &r); err != nil {
		e.t.Fatal(err)
	}
	return r
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request through the gateway (HTTP/2).
func (e *env) do(method, path string, hdr http.Header) response {
	e.t.Helper()
	return e.doWith(e.client, method, path, hdr)
}

// doWith sends one request with the given client.
func (e *env) doWith(c *http.Client, method, path string, hdr http.Header) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func bearer(tok string) http.Header { return hdr("Authorization", "Bearer "+tok) }

func basic(user, pw string) http.Header {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pw)
	return hdr("Authorization", r.Header.Get("Authorization"))
}

// recordingUpstream answers 200 and records every request it receives.
type recordingUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	// Body is how many body bytes arrived; BodyErr how reading them ended.
	Body    int64
	BodyErr error
	// BodySum is the SHA-256 of the body bytes that arrived.
	BodySum [32]byte
}

func newRecordingUpstream(t *testing.T) *recordingUpstream {
	u := &recordingUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body is read first, as real upstreams do, and recorded with
		// how its read ended (a body the gateway cut short errs).
		sum := sha256.New()
		n, bodyErr := io.Copy(sum, r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: n, BodyErr: bodyErr, BodySum: [32]byte(sum.Sum(nil))})
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"upstream": "ok", "path": r.URL.Path})
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *recordingUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

func (u *recordingUpstream) last() recorded {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		return recorded{}
	}
	return u.reqs[len(u.reqs)-1]
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	// flush, when set, writes out the gateway's buffered audit lines before
	// the buffer is read.
	flush func()
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	if s.flush != nil {
		s.flush()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// withFixtures is a test config: the shared fragments of
// testdata/config/e2e/ (by name: "listen", "issuer") followed by the
// test's own keys, as text, so tests can still edit the result with
// strings.Replace. A fragment's keys must not appear in override.
func withFixtures(override string, fragments ...string) string {
	var b strings.Builder
	for _, f := range fragments {
		raw, err := os.ReadFile(filepath.Join("..", "testdata", "config", "e2e", f+".yaml"))
		if err != nil {
			panic(err)
		}
		b.Write(raw)
	}
	b.WriteString(override)
	return b.String()
}
