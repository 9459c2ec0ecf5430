package main

// Processes of the comparison: building the binaries, starting the gateway
// and its peers on free loopback ports, and the preflight that checks each
// target answers as expected before anything is measured.

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// build compiles the gateway from this tree, as `make build` does, unless a
// binary was given.
func (b *bench) build() error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		return fmt.Errorf("run from inside the gatehouse module (go env GOMOD: %v)", err)
	}
	b.root = filepath.Dir(strings.TrimSpace(string(out)))
	if rev, err := exec.Command("git", "-C", b.root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		b.revision = strings.TrimSpace(string(rev))
		if st, err := exec.Command("git", "-C", b.root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			b.revision += " (working tree has changes)"
		}
	}
	if b.opts.gatehouse != "" {
		b.binary = b.opts.gatehouse
		return nil
	}
	b.binary = filepath.Join(b.work, "gatehouse")
	logf("building %s from %s", b.binary, b.root)
	cmd := exec.Command("go", "build", "-o", b.binary, "./cmd/gatehouse")
	cmd.Dir, cmd.Stdout, cmd.Stderr = b.root, os.Stderr, os.Stderr
	return cmd.Run()
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// proc is a child process; done closes when it has exited.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to grace before SIGKILL.
func (p *proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// start runs a child whose output goes to the file logFile; it dies with us.
func (b *bench) start(name, logFile string, env []string, bin string, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	f, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	b.procs = append(b.procs, p)
	return p, nil
}

// gateway writes a config and starts `gatehouse run`, its logs (JSON at
// info: the defaults) going to a file as they would under a supervisor.
func (b *bench) gateway(name, upstream string, audit bool, env []string) (*proc, string, error) {
	p, addr, _, err := b.gatewayTTL(name, upstream, audit, "", env)
	return p, addr, err
}

// gatewayTTL is gateway with the bearer scheme's cache_ttl (its default when
// empty), returning the admin address too.
func (b *bench) gatewayTTL(name, upstream string, audit bool, ttl string, env []string) (*proc, string, string, error) {
	auditLine := ""
	if !audit {
		auditLine = "  audit: false\n"
	}
	ttlOpt := ""
	if ttl != "" {
		ttlOpt = ", cache_ttl: " + ttl
	}
	return b.startGateway(name, fmt.Sprintf(`apis:
  - openapi: bench-api.json
    upstream: %s
schemes:
  benchJWT: {type: bearer, issuers: [bench]%s}
issuers:
  - name: bench
    issuer: %s
    jwks_file: issuer-jwks.json
    audiences: [%s]
log:
  level: info
  format: json
%s`, upstream, ttlOpt, issuerID, audience, auditLine), env)
}

// startGateway picks the public (TLS) and admin ports, writes the config
// (its listen and admin sections, then rest), starts `gatehouse run` on it
// with -gateway-env and then env in its environment, and waits for the
// admin listener's /readyz (the public one opens before it). It returns the
// process and the two addresses.
func (b *bench) startGateway(name, rest string, env []string) (*proc, string, string, error) {
	addr, err := freePort()
	if err != nil {
		return nil, "", "", err
	}
	admin, err := freePort()
	if err != nil {
		return nil, "", "", err
	}
	cfg := fmt.Sprintf(`listen:
  address: %s
  tls: {cert_file: server.pem, key_file: server-key.pem}
admin:
  address: %s
%s`, addr, admin, rest)
	cfgFile := filepath.Join(b.work, name+".yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		return nil, "", "", err
	}
	logFile := filepath.Join(b.work, name+".log")
	b.logs[name] = logFile
	if b.opts.gatewayEnv != "" {
		env = append(strings.Split(b.opts.gatewayEnv, ","), env...)
	}
	p, err := b.start(name, logFile, env, b.binary, "run", "-c", cfgFile)
	if err != nil {
		return nil, "", "", err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, addr, admin, nil
			}
		}
		if p.exited() || time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile)
			return nil, "", "", fmt.Errorf("%s did not become ready: %s", name, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// preflight checks every target answers as intended, so a misconfiguration
// cannot pass for speed (401s are fast).
func (b *bench) preflight() error {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: b.pki.pool, MinVersion: tls.VersionTLS12},
	}}
	fresh, err := b.mint(-1)
	if err != nil {
		return err
	}
	check := func(u, authz, header string, want int) error {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if authz != "" {
			req.Header.Set("Authorization", "Bearer "+authz)
		}
		if name, value, ok := strings.Cut(header, ": "); ok {
			req.Header.Set(name, value)
		}
		var resp *http.Response
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err = c.Do(req)
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("preflight %s: %w", u, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("preflight %s: status %d, want %d: %s", u, resp.StatusCode, want, body)
		}
		return nil
	}
	for _, t := range b.targets {
		tok := ""
		if t.token {
			tok = b.token
		}
		if t.fresh {
			tok = fresh
		}
		if t.bearer != "" {
			tok = t.bearer
		}
		if err := check(t.url, tok, t.header, http.StatusOK); err != nil {
			return err
		}
		if (strings.HasPrefix(t.name, "jwt-") && !t.fresh) || t.header != "" || t.bearer != "" {
			if err := check(t.url, "", "", http.StatusUnauthorized); err != nil {
				return err
			}
		}
	}
	return nil
}
