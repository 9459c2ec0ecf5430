package container

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// RequirePodmanEnv makes a missing podman, or a container that cannot run,
// a failure instead of a skip (CI sets it; .ci/run).
const RequirePodmanEnv = "GATEHOUSE_REQUIRE_PODMAN"

const repoRoot = "../.."

// skipOrFail skips with a loud message, or fails where podman is required.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(RequirePodmanEnv) != "" {
		t.Fatalf("%s (%s is set)", msg, RequirePodmanEnv)
	}
	t.Skipf("SKIPPED — THE CONTAINER IMAGE IS NOT TESTED: %s (make test-deps installs podman; set %s=1 to fail instead)", msg, RequirePodmanEnv)
}

// TestImage builds the image the way `make image` does (a static binary
// from the host, no base image pulled), checks its metadata, then runs the
// quickstart in it: read-only root, user 65532, no capabilities, the
// config mounted read-only, host networking on loopback.
func TestImage(t *testing.T) {
	podmanBin, err := exec.LookPath("podman")
	if err != nil {
		skipOrFail(t, "podman not installed")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the image holds a linux binary")
	}
	ctxDir := buildContext(t)
	podman := privateStorage(t, podmanBin)
	tag := "localhost/gatehouse-test:" + randomHex(t)
	out, err := podman.run("build", "-q", "-f", filepath.Join(repoRoot, "deploy/container/Dockerfile"),
		"--build-arg", "BINARY_FROM=prebuilt", "-t", tag, ctxDir)
	if err != nil {
		t.Fatalf("podman build: %v\n%s", err, out)
	}
	checkImageConfig(t, podman, tag)

	runFlags := runnableFlags(t, podman, tag)
	qs := quickstart(t, filepath.Join(ctxDir, "dist", "gatehouse-linux-"+runtime.GOARCH))
	name := "gatehouse-test-" + randomHex(t)
	args := append([]string{"run", "-d", "--name", name}, runFlags...)
	args = append(args, "--network", "host", "--read-only", "--user", "65532:65532", "--cap-drop", "ALL",
		"--security-opt", "no-new-privileges", "-v", qs.dir+":/qs:ro",
		tag, "run", "-c", "/qs/examples/quickstart/gatehouse.yaml")
	if out, err := podman.run(args...); err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	logs := func() string { b, _ := podman.run("logs", name); return string(b) }

	waitReady(t, "http://"+qs.admin+"/readyz", logs)
	qs.checkRequests(t, logs)

	// SIGTERM: the gateway drains and exits 0 well within the stop timeout.
	if out, err := podman.run("stop", "-t", "20", name); err != nil {
		t.Fatalf("podman stop: %v\n%s", err, out)
	}
	code, _ := podman.run("inspect", "-f", "{{.State.ExitCode}}", name)
	if strings.TrimSpace(string(code)) != "0" {
		t.Errorf("exit code after SIGTERM: %s; logs:\n%s", code, logs())
	}
}

// buildContext lays out what the Dockerfile's prebuilt stage copies: a
// static binary for this machine's architecture, the host's CA bundle,
// and the image's passwd and group files. The repository's own dist/ is
// left alone.
func buildContext(t *testing.T) string {
	dir := t.TempDir()
	bin := filepath.Join(dir, "dist", "gatehouse-linux-"+runtime.GOARCH)
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(gobin, "build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w", "-o", bin, "./cmd/gatehouse")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatalf("the image needs the host's CA bundle (Debian: ca-certificates): %v", err)
	}
	copies := map[string][]byte{"dist/ca-certificates.crt": ca}
	for _, f := range []string{"deploy/container/passwd", "deploy/container/group"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		copies[f] = b
	}
	for name, b := range copies {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(bin); err == nil {
		t.Logf("static binary: %.1f MB", float64(fi.Size())/1e6)
	}
	return dir
}

func checkImageConfig(t *testing.T, podman podmanCmd, tag string) {
	out, err := podman.output("image", "inspect", tag)
	if err != nil {
		t.Fatalf("podman image inspect: %v", err)
	}
	var imgs []struct {
		Size   int64
		Config struct {
			User         string
			ExposedPorts map[string]struct{}
			Entrypoint   []string
			WorkingDir   string
		}
	}
	if err := json.Unmarshal(out, &imgs); err != nil || len(imgs) != 1 {
		t.Fatalf("podman image inspect: %v: %s", err, out)
	}
	c := imgs[0].Config
	if c.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532 (numeric, so runAsNonRoot can verify it)", c.User)
	}
	for _, p := range []string{"8443/tcp", "9901/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("port %s not exposed: %v", p, c.ExposedPorts)
		}
	}
	if len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/usr/local/bin/gatehouse" {
		t.Errorf("entrypoint %q", c.Entrypoint)
	}
	t.Logf("image size: %.1f MB", float64(imgs[0].Size)/1e6)
}

// runnableFlags finds how containers run on this machine. Some hosts need
// help: crun refuses cgroup v1/v2 hybrid layouts with controllers on v2,
// and podman's default rlimits (nofile 1048576) need CAP_SYS_RESOURCE,
// which a root inside some VMs lacks. Then runc with the current limits
// works. The flags used are logged, so a report can say what ran.
func runnableFlags(t *testing.T, podman podmanCmd, tag string) []string {
	try := func(flags []string) error {
		args := append(append([]string{"run", "--rm"}, flags...), tag, "version")
		out, err := podman.run(args...)
		if err == nil && !strings.Contains(string(out), "gatehouse ") {
			err = fmt.Errorf("unexpected output")
		}
		if err != nil {
			return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
		}
		return nil
	}
	plain := try(nil)
	if plain == nil {
		return nil
	}
	t.Logf("podman run with defaults fails here: %v", plain)
	if _, err := exec.LookPath("runc"); err != nil {
		skipOrFail(t, "podman cannot run containers here (%v) and runc is not installed", plain)
	}
	flags := []string{"--runtime", "runc", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"}
	if err := try(flags); err != nil {
		skipOrFail(t, "podman cannot run containers here: defaults: %v; with %v: %v", plain, flags, err)
	}
	t.Logf("running containers with %v", flags)
	return flags
}

// podmanCmd runs podman on a storage of its own, so the test neither sees
// nor leaves behind images (buildah keeps every stage's layers) in the
// machine's store, and its cleanup is deleting a directory.
type podmanCmd []string

func privateStorage(t *testing.T, bin string) podmanCmd {
	dir, err := os.MkdirTemp("", "ghpod")
	if err != nil {
		t.Fatal(err)
	}
	p := podmanCmd{bin, "--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs"}
	t.Cleanup(func() {
		_, _ = p.run("rm", "-af", "-t", "0")
		_, _ = p.run("rmi", "-af")
		_ = os.RemoveAll(dir)
	})
	return p
}

func (p podmanCmd) run(args ...string) ([]byte, error) {
	return exec.Command(p[0], append(p[1:len(p):len(p)], args...)...).CombinedOutput()
}

func (p podmanCmd) output(args ...string) ([]byte, error) {
	return exec.Command(p[0], append(p[1:len(p):len(p)], args...)...).Output()
}

func waitReady(t *testing.T, url string, logs func() string) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 60 s (%v); container logs:\n%s", url, err, logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func randomHex(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// quickstartEnv is examples/quickstart with its addresses moved to free
// loopback ports, its upstream a test server, and its .dev/pki generated.
type quickstartEnv struct {
	dir, https, admin string
	upstreamHits      chan http.Header
}

func quickstart(t *testing.T, gatehouse string) *quickstartEnv {
	q := &quickstartEnv{dir: t.TempDir(), https: freeAddr(t), admin: freeAddr(t), upstreamHits: make(chan http.Header, 16)}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q.upstreamHits <- r.Header.Clone()
		_, _ = io.WriteString(w, "upstream ok\n")
	}))
	t.Cleanup(up.Close)
	upAddr := strings.TrimPrefix(up.URL, "http://")
	src := filepath.Join(repoRoot, "examples", "quickstart")
	dst := filepath.Join(q.dir, "examples", "quickstart")
	rewrite := strings.NewReplacer("127.0.0.1:8443", q.https, "127.0.0.1:9901", q.admin, "127.0.0.1:9000", upAddr)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, []byte(rewrite.Replace(string(b))), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	pki := filepath.Join(q.dir, ".dev", "pki")
	if out, err := exec.Command(gatehouse, "pki", "-out", pki).CombinedOutput(); err != nil {
		t.Fatalf("gatehouse pki: %v\n%s", err, out)
	}
	// The container runs as 65532; the generated test keys are made
	// readable to it (test-only material in a temporary directory).
	err = filepath.WalkDir(q.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// checkRequests sends the quickstart's first curls through the container:
// public 200, no credentials 401 (upstream not called), JWT 200 with the
// signed identity assertion added.
func (q *quickstartEnv) checkRequests(t *testing.T, logs func() string) {
	pki := filepath.Join(q.dir, ".dev", "pki")
	caPEM, err := os.ReadFile(filepath.Join(pki, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	_, port, _ := net.SplitHostPort(q.https)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"},
	}}
	tok, err := os.ReadFile(filepath.Join(pki, "tokens", "read.jwt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, token string
		want              int
		upstream          bool
	}{
		{name: "ok/public", path: "/petstore/v1/health", want: 200, upstream: true},
		{name: "fail/no credentials", path: "/petstore/v1/pets", want: 401},
		{name: "ok/jwt read", path: "/petstore/v1/pets", token: strings.TrimSpace(string(tok)), want: 200, upstream: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(context.Background(), "GET", "https://127.0.0.1:"+port+tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%v; container logs:\n%s", err, logs())
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			select {
			case h := <-q.upstreamHits:
				if !tt.upstream {
					t.Errorf("the upstream was called")
				}
				if tt.token != "" && h.Get("X-JWT-Assertion") == "" {
					t.Errorf("no identity assertion reached the upstream")
				}
			default:
				if tt.upstream {
					t.Errorf("the upstream was not called")
				}
			}
		})
	}
}
