package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// buildGatehouse builds cmd/gatehouse once into dir, with the flags of
// the container image test's static build (deploy/container), so the two
// share compiled packages in the build cache. Without -race: the processes
// only serve; the race detector covers the gateway in its own tests.
func buildGatehouse(t *testing.T, dir string) string {
	t.Helper()
	start := time.Now()
	bin := filepath.Join(dir, "gatehouse")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-trimpath", "-buildvcs=false", "-o", bin, "./cmd/gatehouse")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built %s in %s", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

// replica is one `gatehouse run` process with its own config file and
// fixed ports, so it restarts where the balancer expects it.
type replica struct {
	t      *testing.T
	name   string
	bin    string
	config string
	base   string // http://127.0.0.1:port
	admin  string
	logs   *lockedBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	// ready is what the balancer's health check last saw.
	ready atomic.Bool
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs the process and waits until /readyz answers 200.
func (r *replica) start() {
	r.t.Helper()
	cmd := exec.Command(r.bin, "run", "-c", r.config)
	cmd.Stdout, cmd.Stderr = r.logs, r.logs
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()
	waitFor(r.t, r.name+" ready", 60*time.Second, func() bool {
		select {
		case <-done:
			r.t.Fatalf("%s exited at start:\n%s", r.name, r.logs.String())
		default:
		}
		return r.readyz() == http.StatusOK
	})
}

// stop sends SIGTERM and waits for the process to exit (0).
func (r *replica) stop() {
	r.t.Helper()
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		r.t.Fatalf("%s did not exit within 30 s of SIGTERM", r.name)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		r.t.Errorf("%s exited %d after SIGTERM:\n%s", r.name, code, r.logs.String())
	}
}

// kill stops the process without a drain (test cleanup).
func (r *replica) kill() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.cmd = nil
	r.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		<-done
	}
}

var probeClient = &http.Client{Timeout: 2 * time.Second}

// readyz is the HTTP status of /readyz (0 when it does not answer).
func (r *replica) readyz() int {
	resp, err := probeClient.Get(r.admin + "/readyz")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// balancer is what sits in front of a fleet: it health-checks each
// replica's /readyz every 100 ms and sends requests round robin to the
// ready ones, over pooled keep-alive connections.
type balancer struct {
	replicas []*replica
	client   *http.Client
	next     atomic.Uint64
	stop     chan struct{}
	wg       sync.WaitGroup

	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
}

func newBalancer(replicas []*replica) *balancer {
	b := &balancer{replicas: replicas, stop: make(chan struct{}),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			for _, r := range replicas {
				r.ready.Store(r.readyz() == http.StatusOK)
			}
			select {
			case <-b.stop:
				return
			case <-t.C:
			}
		}
	}()
	return b
}

// pick is the next ready replica (nil when none is).
func (b *balancer) pick() *replica {
	for range b.replicas {
		r := b.replicas[int(b.next.Add(1))%len(b.replicas)]
		if r.ready.Load() {
			return r
		}
	}
	return nil
}

// loop runs workers sending requests through the balancer until stopped,
// counting every response other than 200 and every transport error as a
// failed request.
func (b *balancer) loop(workers int, path, user, password string) {
	for range workers {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			for {
				select {
				case <-b.stop:
					return
				default:
				}
				r := b.pick()
				if r == nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				b.record(r, b.send(r, path, user, password))
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
}

func (b *balancer) send(r *replica, path, user, password string) error {
	req, err := http.NewRequestWithContext(context.Background(), "GET", r.base+path, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, password)
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

func (b *balancer) record(r *replica, err error) {
	if err == nil {
		b.ok.Add(1)
		return
	}
	b.failed.Add(1)
	b.mu.Lock()
	if len(b.errs) < 10 {
		b.errs = append(b.errs, r.name+": "+err.Error())
	}
	b.mu.Unlock()
}

// counts returns the requests that succeeded and failed so far, and the
// first errors.
func (b *balancer) counts() (ok, failed int64, errs string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ok.Load(), b.failed.Load(), strings.Join(b.errs, "\n")
}

func (b *balancer) close() {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	b.wg.Wait()
	b.client.CloseIdleConnections()
}

// writeFile writes name under dir by rename, as a Secret update would, so
// the gateway's watch never reads a half-written key.
func writeFile(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
