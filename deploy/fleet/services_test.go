package fleet

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// redisServer is a private redis-server the test stops and starts again
// on the same port (an outage).
type redisServer struct {
	t    *testing.T
	bin  string
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis starts redis-server on a free loopback port; without one the
// test is skipped, or fails when GATEHOUSE_REQUIRE_REDIS is set (CI).
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "!!! redis-server is not installed: the fleet test did NOT run. Install it (make test-deps) !!!"
		if os.Getenv(authntest.RequireRedisEnv) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	r := &redisServer{t: t, bin: bin, port: freePort(t), dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--loglevel", "warning")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(r.cmd, r.done)
	waitFor(r.t, "redis-server answers", 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", r.addr(), time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		_, _ = c.Write([]byte("PING\r\n"))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.HasPrefix(line, "+PONG")
	})
}

func (r *redisServer) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

// bundleServer serves one bundle, as a bundle server would to the fleet.
func bundleServer(t *testing.T, revision string) *httptest.Server {
	t.Helper()
	roots := []string{"gatehouse/revocations"}
	b := bundle.Bundle{
		Manifest: bundle.Manifest{Revision: revision, Roots: &roots},
		Data:     map[string]any{"gatehouse": map[string]any{"revocations": map[string]any{}}},
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(b); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/bundles/fleet.tar.gz" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/gzip")
		_, _ = w.Write(buf.Bytes())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// collector receives OPA decision-log uploads (gzip JSON arrays) and
// counts records per labels.id.
type collector struct {
	*httptest.Server
	mu  sync.Mutex
	ids map[string]int
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{ids: map[string]int{}}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var events []struct {
			Labels map[string]string `json:"labels"`
		}
		if err := json.NewDecoder(zr).Decode(&events); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, ev := range events {
			c.ids[ev.Labels["id"]+" "+ev.Labels["version"]]++
		}
		c.mu.Unlock()
	}))
	t.Cleanup(c.Close)
	return c
}

// byInstance is the number of records per "labels.id labels.version".
func (c *collector) byInstance() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.ids {
		out[k] = v
	}
	return out
}

// upstream verifies every identity assertion with one copy of the fleet's
// key set, fetched from one replica when told (refresh), as an upstream
// caching a JWKS would: 200 when it verifies, 401 when not.
type upstream struct {
	*httptest.Server
	mu       sync.Mutex
	set      jwk.Set
	kids     map[string]int // verified assertions per signing kid
	rejected int
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{kids: map[string]int{}}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		set := u.set
		u.mu.Unlock()
		tok := r.Header.Get("X-JWT-Assertion")
		msg, err := jws.Parse([]byte(tok))
		if err == nil && set != nil {
			_, err = jws.Verify([]byte(tok), jws.WithKeySet(set, jws.WithRequireKid(true)))
		} else if err == nil {
			err = fmt.Errorf("no key set")
		}
		u.mu.Lock()
		defer u.mu.Unlock()
		if err != nil {
			u.rejected++
			http.Error(w, "assertion: "+err.Error(), http.StatusUnauthorized)
			return
		}
		u.kids[msg.Signatures()[0].ProtectedHeaders().KeyID()]++
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(u.Close)
	return u
}

// refresh replaces the upstream's key set with the one jwksURL serves.
func (u *upstream) refresh(t *testing.T, jwksURL string) {
	t.Helper()
	resp, err := http.Get(jwksURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	set, err := jwk.Parse(b)
	if err != nil {
		t.Fatalf("%s: %v: %s", jwksURL, err, b)
	}
	u.mu.Lock()
	u.set = set
	u.mu.Unlock()
}

func (u *upstream) verified(kid string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.kids[kid]
}

// waitFor polls cond every 20 ms until it holds, or fails the test after
// limit; it returns how long that took.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}
