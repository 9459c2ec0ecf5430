package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// echoUpgradeUpstream switches any Upgrade: websocket request to a raw echo
// of lines, and records the Upgrade header of everything it gets.
func echoUpgradeUpstream(t *testing.T) (*httptest.Server, chan string) {
	seen := make(chan string, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("Upgrade")
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			w.WriteHeader(http.StatusOK)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			_, _ = brw.WriteString("echo " + line)
			_ = brw.Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

// TestHostileUpgrade: an API with websockets: true forwards a websocket
// upgrade and then carries raw bytes both ways (inspection stops after the
// upgrade request); the same request to an API without it, or an h2c
// upgrade, is forwarded as a plain request.
func TestHostileUpgrade(t *testing.T) {
	up, seen := echoUpgradeUpstream(t)
	cfg := fmt.Sprintf(`
listen:
  address: 127.0.0.1:0
  tls: {cert_file: server.pem, key_file: server-key.pem}
admin: {address: 127.0.0.1:0}
apis:
  - openapi: ws.yaml
    upstream: %[1]s
    websockets: true
  - openapi: plain.yaml
    upstream: %[1]s
`, up.URL)
	doc := func(title, base string) string {
		return "openapi: 3.0.3\ninfo: {title: " + title + ", version: \"1\"}\nx-gatehouse-base-path: " + base +
			"\nsecurity: []\npaths:\n  /stream:\n    get: {operationId: stream, responses: {\"200\": {description: ok}}}\n"
	}
	e := newEnv(t, envOptions{config: cfg, files: map[string]string{"ws.yaml": doc("WS", "/ws"), "plain.yaml": doc("Plain", "/plain")}})
	upgrade := func(path, proto string) string {
		return crlf("GET " + path + " HTTP/1.1\nHost: localhost\nConnection: Upgrade\nUpgrade: " + proto + "\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n\n")
	}

	t.Run("ok/websocket-switches-and-carries-raw-bytes", func(t *testing.T) {
		c := e.rawConn()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		_, _ = io.WriteString(c, upgrade("/ws/stream", "websocket"))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		if got := <-seen; got != "websocket" {
			t.Fatalf("upstream saw Upgrade %q", got)
		}
		// bytes that would be refused in an HTTP head pass untouched
		for _, msg := range []string{"GET / HTTP/1.1\n", " folded\n", "\x00\n"} {
			_, _ = io.WriteString(c, msg)
			line, err := br.ReadString('\n')
			if err != nil || line != "echo "+msg {
				t.Fatalf("echo %q: %q %v", msg, line, err)
			}
		}
	})
	for _, tc := range []struct{ name, path, proto string }{
		{"ok/websocket-not-forwarded-without-websockets", "/plain/stream", "websocket"},
		{"ok/h2c-never-forwarded", "/ws/stream", "h2c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.raw(upgrade(tc.path, tc.proto), "GET")
			if r.status != http.StatusOK || !r.close {
				t.Fatalf("status %d close %v, want 200 and Connection: close", r.status, r.close)
			}
			if got := <-seen; got != "" {
				t.Fatalf("upstream saw Upgrade %q", got)
			}
		})
	}
}

// TestHostileFramingPlainListener: the plain HTTP listener inspects its
// connections too.
func TestHostileFramingPlainListener(t *testing.T) {
	cfg := `
listen: {http_address: 127.0.0.1:0, allow_credentials_over_http: true}
admin: {address: ""}
apis:
  - openapi: plain.yaml
    upstream: ${UPSTREAM}
`
	e := newEnv(t, envOptions{config: cfg, files: map[string]string{"plain.yaml": "openapi: 3.0.3\ninfo: {title: Plain, version: \"1\"}\nx-gatehouse-base-path: /plain\nsecurity: []\npaths:\n  /x:\n    get: {operationId: x, responses: {\"200\": {description: ok}}}\n"}})
	runHostile(t, e, []hostileCase{
		{name: "ok/clean", req: "GET /plain/x HTTP/1.1\nHost: localhost\n\n", status: 200, upPath: "/x"},
		{name: "fail/bare-lf", req: "GET /plain/x HTTP/1.1\nHost: localhost\n\n", raw: true, status: 400},
		{name: "fail/cl-te", req: "POST /plain/x HTTP/1.1\nHost: localhost\nContent-Length: 3\nTransfer-Encoding: chunked\n\n0\n\n", status: 400},
		{name: "fail/absolute-form-without-tls", req: "GET http://localhost/plain/x HTTP/1.1\nHost: localhost\n\n", status: 400},
	})
}
