package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

const (
	audience = "soak"
	apiDoc   = `openapi: 3.1.0
info: {title: Soak, version: "1"}
x-gatehouse-base-path: /soak
security: [{jwt: [read]}]
paths:
  /items/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get: {operationId: item, responses: {"200": {description: ok}}}
  /admin:
    get: {operationId: admin, security: [{jwt: [admin]}], responses: {"200": {description: ok}}}
  /public:
    get: {operationId: public, security: [], responses: {"200": {description: ok}}}
components:
  securitySchemes:
    jwt: {type: http, scheme: bearer}
`
)

// upstream answers 200 and counts what it gets; a request that reached it
// without the gateway's assertion on a protected path is a breach.
type upstream struct {
	hits, unasserted atomic.Int64
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.hits.Add(1)
	if !strings.HasSuffix(r.URL.Path, "/public") && r.Header.Get("X-JWT-Assertion") == "" {
		u.unasserted.Add(1)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (s *soak) write(name, content string) error {
	p := filepath.Join(s.work, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p) // the watcher must never read half a file
}

func (s *soak) setup() error {
	ca, err := authntest.NewCA()
	if err != nil {
		return err
	}
	leaf, err := ca.Server("localhost", "127.0.0.1")
	if err != nil {
		return err
	}
	if _, _, err := leaf.WriteFiles(s.work, "server"); err != nil {
		return err
	}
	s.issuer = authntest.NewIssuer(&s.tb)
	up := &upstream{}
	upAddr := freePort()
	upSrv := &http.Server{Addr: upAddr, Handler: up, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = upSrv.ListenAndServe() }()
	s.tb.Cleanup(func() { _ = upSrv.Close() })

	addr, admin := freePort(), freePort()
	cfg := fmt.Sprintf(`listen:
  address: %s
  tls: {cert_file: server.pem, key_file: server-key.pem}
admin: {address: %s}
apis:
  - openapi: soak.yaml
    upstream: http://%s
schemes:
  jwt: {type: bearer, issuers: [idp]}
issuers:
  - name: idp
    issuer: %q
    jwks_url: %q
    audiences: [%s]
policy: {bundles: [bundle/]}
log: {level: warn, format: json, audit: false}
`, addr, admin, upAddr, s.issuer.Issuer(), s.issuer.JWKSURL(), audience)
	for name, content := range map[string]string{
		"gatehouse.yaml":   cfg,
		"soak.yaml":        apiDoc,
		"bundle/.manifest": `{"revision": "soak-0", "roots": ["gatehouse/revocations", "soak"]}`,
		"bundle/data.json": revocations(0),
	} {
		if err := s.write(name, content); err != nil {
			return err
		}
	}
	logFile, err := os.Create(filepath.Join(s.work, "gateway.log"))
	if err != nil {
		return err
	}
	s.gw = exec.Command(s.opts.gatehouse, "run", "-c", filepath.Join(s.work, "gatehouse.yaml"))
	s.gw.Stdout, s.gw.Stderr = logFile, logFile
	if err := s.gw.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.opts.gatehouse, err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.gw.Wait(); logFile.Close(); close(s.exited) }()
	s.base, s.admin = "https://"+addr, "http://"+admin
	if err := s.waitReady(); err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate)
	s.traffic, err = newTraffic(s.base, pool, s.issuer, up)
	return err
}

func (s *soak) waitReady() error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("gateway exited at start; see %s", filepath.Join(s.work, "gateway.log"))
		default:
		}
		if r, err := http.Get(s.admin + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("gateway not ready after 30s")
}

func revocations(n int) string {
	return fmt.Sprintf(`{"gatehouse": {"revocations": {"jti": {"revoked-%d": true, "revoked-jti": true}}}, "soak": {"rev": %d}}`, n, n)
}

// reloader rewrites the bundle every reloadEvery; every third rewrite adds
// a Rego file that does not parse (the previous generation must keep
// serving), the next one removes it.
func (s *soak) reloader(ctx context.Context) {
	t := time.NewTicker(s.opts.reloadEvery)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			_ = os.Remove(filepath.Join(s.work, "bundle", "broken.rego"))
			return
		case <-t.C:
		}
		var err error
		if n%3 == 0 {
			err = s.write("bundle/broken.rego", "package soak.broken\n\nallow if {\n")
			s.badReloads.Add(1)
		} else {
			_ = os.Remove(filepath.Join(s.work, "bundle", "broken.rego"))
			err = s.write("bundle/data.json", revocations(n))
		}
		if err != nil {
			logf("reload %d: %v", n, err)
		}
		s.reloads.Add(1)
	}
}

// flapper takes the issuer's JWKS endpoint down (503, then garbage) for a
// third of every flapEvery: unknown-kid tokens in the hostile traffic make
// the gateway refetch, valid tokens must keep working on the known keys.
func (s *soak) flapper(ctx context.Context) {
	modes := []authntest.Mode{authntest.ServeUnavailable, authntest.ServeGarbage, authntest.ServeClose}
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			s.issuer.SetMode(authntest.ServeOK)
			return
		case <-time.After(s.opts.flapEvery * 2 / 3):
		}
		s.issuer.SetMode(modes[n%len(modes)])
		s.flaps.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(s.opts.flapEvery / 3):
		}
		s.issuer.SetMode(authntest.ServeOK)
	}
}

// sample is one reading of the gateway's runtime figures.
type sample struct {
	label      string
	at         time.Duration
	goroutines float64
	heapInuse  float64
	fds        float64
}

func (s *soak) sample(label string, at time.Duration) sample {
	m := metrics(s.admin)
	return sample{label: label, at: at, goroutines: m["go_goroutines"], heapInuse: m["go_memstats_heap_inuse_bytes"], fds: m["process_open_fds"]}
}

// sampler reads the figures every 5 s for the heap medians.
func (s *soak) sampler(ctx context.Context, rep *report) <-chan struct{} {
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				rep.series = append(rep.series, s.sample("", time.Since(start)))
			}
		}
	}()
	return done
}

// metrics reads the unlabelled gauges of a Prometheus text page.
func metrics(admin string) map[string]float64 {
	out := map[string]float64{}
	r, err := http.Get(admin + "/metrics")
	if err != nil {
		return out
	}
	defer r.Body.Close()
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		name, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			out[name] = f
		}
	}
	return out
}
