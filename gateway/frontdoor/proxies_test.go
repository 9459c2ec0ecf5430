package frontdoor_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Real NGINX (auth_request) and Caddy (forward_auth) in front of the
// quickstart gateway's forward-auth endpoint and a recording upstream, on
// private loopback ports with generated configs. Without the binaries the
// tests skip, loudly, unless GATEHOUSE_REQUIRE_PROXIES is set (.ci/run sets
// it, and `make test-deps` installs both Debian packages), where they fail.

// RequireProxiesEnv makes a missing nginx or caddy a failure.
const RequireProxiesEnv = "GATEHOUSE_REQUIRE_PROXIES"

func lookProxy(t *testing.T, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		// Debian installs nginx in /usr/sbin, which a user's PATH may lack.
		bin, err = exec.LookPath("/usr/sbin/" + name)
	}
	if err != nil {
		msg := fmt.Sprintf("!!! %s is not installed: its end-to-end test did NOT run. Install it (apt-get install -y %s; make test-deps does) !!!", name, name)
		if os.Getenv(RequireProxiesEnv) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProcess runs a proxy until the test ends and waits until addr
// answers HTTP.
func startProcess(t *testing.T, addr string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	must(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %s", name, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s: %s", name, addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func nginxConf(dir string, port int, faAddr, upstream, ca string) string {
	return fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream gatehouse { server %[3]s; keepalive 16; }
  upstream app { server %[4]s; keepalive 16; }
  server {
    listen 127.0.0.1:%[2]d;
%[6]s
    location = /_gatehouse {
      internal;
      proxy_pass https://gatehouse/auth/nginx;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_trusted_certificate %[5]s;
      proxy_ssl_verify on;
      proxy_ssl_name localhost;
      proxy_ssl_session_reuse on;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header Host $host;
    }
  }
}
`, dir, port, faAddr, upstream, ca, nginxAppLocation)
}

// nginxAppLocation is the protected location: ask Gatehouse, copy the
// assertion and request id upstream, never forward the credentials.
const nginxAppLocation = `    location / {
      auth_request /_gatehouse;
      auth_request_set $gatehouse_assertion $upstream_http_x_jwt_assertion;
      auth_request_set $gatehouse_request_id $upstream_http_x_request_id;
      proxy_set_header X-JWT-Assertion $gatehouse_assertion;
      proxy_set_header X-Request-Id $gatehouse_request_id;
      proxy_set_header Authorization "";
      proxy_set_header X-API-Key "";
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://app;
    }`

func caddyfile(port int, faAddr, upstream, ca string) string {
	return fmt.Sprintf(`{
	admin off
	auto_https off
}
http://:%[1]d {
	bind 127.0.0.1
	route {
		request_header -X-JWT-Assertion
		forward_auth https://%[2]s {
			uri /auth/forward
			copy_headers X-JWT-Assertion X-Request-Id
			transport http {
				tls_trusted_ca_certs %[4]s
				tls_server_name localhost
			}
		}
		request_header -Authorization
		request_header -X-API-Key
		reverse_proxy %[3]s
	}
}
`, port, faAddr, upstream, ca)
}

// TestRealProxies: allow and deny through NGINX auth_request and Caddy
// forward_auth, an upstream that receives a verifiable assertion and no
// credential, and a client's forged assertion that never arrives.
func TestRealProxies(t *testing.T) {
	t.Parallel() // each starts its own gateway, upstream and proxies on free ports
	q := startQuickstart(t)
	faAddr := q.srv.ForwardAuthAddr().String()
	upstream := strings.TrimPrefix(q.up.URL, "http://")
	ca := filepath.Join(q.dir, "pki", "ca.pem")
	proxies := map[string]func(t *testing.T) string{
		"nginx": func(t *testing.T) string {
			bin := lookProxy(t, "nginx")
			dir := t.TempDir()
			port := freePort(t)
			conf := filepath.Join(dir, "nginx.conf")
			must(t, os.WriteFile(conf, []byte(nginxConf(dir, port, faAddr, upstream, ca)), 0o600))
			addr := "127.0.0.1:" + strconv.Itoa(port)
			startProcess(t, addr, nil, bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
			return "http://" + addr
		},
		"caddy": func(t *testing.T) string {
			bin := lookProxy(t, "caddy")
			dir := t.TempDir()
			port := freePort(t)
			conf := filepath.Join(dir, "Caddyfile")
			must(t, os.WriteFile(conf, []byte(caddyfile(port, faAddr, upstream, ca)), 0o600))
			addr := "127.0.0.1:" + strconv.Itoa(port)
			env := []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
			startProcess(t, addr, env, bin, "run", "--config", conf, "--adapter", "caddyfile")
			return "http://" + addr
		},
	}
	keys, err := jwk.Fetch(context.Background(), q.admin+"/.well-known/jwks.json")
	must(t, err)
	client := &http.Client{Timeout: 20 * time.Second}
	t.Cleanup(client.CloseIdleConnections)

	for name, start := range proxies {
		t.Run(name, func(t *testing.T) {
			base := start(t)
			tests := []struct {
				name, method, path string
				header             http.Header
				status             int
				subject            string // of the assertion the upstream got; "" : none
			}{
				{name: "ok/jwt", method: "GET", path: "/petstore/v1/pets", header: http.Header{"Authorization": {"Bearer " + q.tokens["read"]}}, status: 200, subject: "demo-user"},
				{name: "ok/basic", method: "GET", path: "/petstore/v1/pets/1", header: http.Header{"Authorization": {"Basic YWxpY2U6d29uZGVybGFuZA=="}}, status: 200, subject: "alice"},
				{name: "ok/api_key", method: "GET", path: "/petstore/v1/inventory", header: http.Header{"X-Api-Key": {q.apiKey}}, status: 200, subject: "demo-app"},
				{name: "ok/public_forged_assertion_dropped", method: "GET", path: "/petstore/v1/health", header: http.Header{"X-Jwt-Assertion": {"forged"}}, status: 200},
				{name: "fail/no_credentials", method: "GET", path: "/petstore/v1/pets", status: 401},
				{name: "fail/expired", method: "GET", path: "/petstore/v1/pets", header: http.Header{"Authorization": {"Bearer " + q.tokens["expired"]}}, status: 401},
				{name: "fail/insufficient_scope", method: "POST", path: "/petstore/v1/pets", header: http.Header{"Authorization": {"Bearer " + q.tokens["read"]}}, status: 403},
				{name: "fail/forged_assertion_alone", method: "GET", path: "/petstore/v1/pets", header: http.Header{"X-Jwt-Assertion": {"forged"}}, status: 401},
			}
			for i, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					rid := fmt.Sprintf("%s-%d", name, i)
					req, err := http.NewRequest(tc.method, base+tc.path, nil)
					must(t, err)
					for k, v := range tc.header {
						req.Header[k] = v
					}
					req.Header.Set("X-Request-Id", rid)
					resp, err := client.Do(req)
					must(t, err)
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != tc.status {
						t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
					}
					up := q.up.headers(rid)
					if tc.status != 200 {
						if up != nil {
							t.Fatal("a denied request reached the upstream")
						}
						if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
							t.Error("401 without a challenge")
						}
						return
					}
					if up == nil {
						t.Fatal("the upstream did not get the request")
					}
					for _, h := range []string{"Authorization", "X-Api-Key"} {
						if up.Get(h) != "" {
							t.Errorf("the upstream got %s", h)
						}
					}
					a := up.Get("X-Jwt-Assertion")
					if tc.subject == "" {
						if a != "" {
							t.Errorf("the upstream got an assertion %q on a public route", a)
						}
						return
					}
					tok, err := jwt.Parse([]byte(a), jwt.WithKeySet(keys), jwt.WithValidate(true))
					if err != nil {
						t.Fatalf("assertion does not verify with the gateway's JWKS: %v", err)
					}
					if tok.Subject() != tc.subject {
						t.Errorf("assertion sub %q, want %q", tok.Subject(), tc.subject)
					}
				})
			}
		})
	}
}
