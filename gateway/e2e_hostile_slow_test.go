package gateway_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestHostileSlowClients: a client that trickles its headers, or never
// finishes the TLS handshake, loses its connection at read_header_timeout
// (1s here). The bounds below only keep a broken gateway from hanging the
// test; they are not timing assertions.
func TestHostileSlowClients(t *testing.T) {
	e := hostileEnv(t)
	t.Run("fail/slowloris-headers", func(t *testing.T) {
		c := e.rawConn()
		defer c.Close()
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			_, _ = io.WriteString(c, "GET /shapes/public HTTP/1.1\r\nHost: localhost\r\n")
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
				}
				if _, err := fmt.Fprintf(c, "X-Slow-%d: x\r\n", i); err != nil {
					return
				}
			}
		}()
		assertClosed(t, c)
	})
	t.Run("fail/stalled-tls-handshake", func(t *testing.T) {
		c, err := net.Dial("tcp", e.srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		assertClosed(t, c)
	})
	if e.upstream.count() != 0 {
		t.Fatalf("upstream called %d times", e.upstream.count())
	}
}

// assertClosed reads until the gateway closes the connection (an optional
// 408 first is fine); the 30 s deadline only bounds a failing test.
func assertClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after 30s")
	}
}

// TestHostileHangingUpstream: an upstream that never answers gets 504 after
// upstream_timeout, and the requests leave no goroutines behind.
func TestHostileHangingUpstream(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	cfg := fmt.Sprintf(`
listen:
  address: 127.0.0.1:0
  tls: {cert_file: server.pem, key_file: server-key.pem}
admin: {address: 127.0.0.1:0}
apis:
  - openapi: slow.yaml
    upstream: %s
    upstream_timeout: 500ms
policy: {decision_timeout: 10s}   # -race on a loaded machine: the policy must not be what fails
log: {level: info}
`, hang.URL)
	e := newEnv(t, envOptions{config: cfg, files: map[string]string{"slow.yaml": `
openapi: 3.0.3
info: {title: Slow, version: "1"}
x-gatehouse-base-path: /slow
security: []
paths:
  /wait:
    get: {operationId: wait, responses: {"200": {description: ok}}}
`}})
	if r := e.do("GET", "/slow/wait", nil); r.status != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504", r.status)
	}
	e.client.CloseIdleConnections()
	settle()
	base := runtime.NumGoroutine()

	const n = 20
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- e.do("GET", "/slow/wait", nil).status
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusGatewayTimeout {
			t.Errorf("status %d, want 504", s)
		}
	}
	e.client.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > base+5 && time.Now().Before(deadline) {
		settle()
	}
	if g := runtime.NumGoroutine(); g > base+5 {
		buf := make([]byte, 1<<20)
		fmt.Fprintf(os.Stderr, "%s\n", buf[:runtime.Stack(buf, true)])
		t.Fatalf("goroutines %d after the load, %d before", g, base)
	}
}

func settle() { time.Sleep(200 * time.Millisecond) }
