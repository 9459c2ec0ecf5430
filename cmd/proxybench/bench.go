package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

const (
	issuerID = "https://issuer.proxybench.local/"
	audience = "bench"
	path     = "/bench/v1/items/42"
)

type bench struct {
	o       options
	dir     string
	procs   []*proc
	token   string
	gateway *proc
	plain   string // NGINX proxying alone
	authed  string // NGINX with auth_request to Gatehouse
	results map[string][]result
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	requests int
	gwCPU    time.Duration // the gateway's CPU time during the run
}

func (b *bench) cleanup() {
	for i := len(b.procs) - 1; i >= 0; i-- {
		b.procs[i].stop()
	}
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

func (b *bench) run(ctx context.Context) error {
	for _, bin := range []*string{&b.o.wrk, &b.o.nginx} {
		p, err := exec.LookPath(*bin)
		if err != nil {
			p, err = exec.LookPath("/usr/sbin/" + *bin)
		}
		if err != nil {
			return fmt.Errorf("%s is not installed (Debian packages wrk and nginx; make test-deps installs nginx, make tools wrk)", *bin)
		}
		*bin = p
	}
	var err error
	if b.dir, err = os.MkdirTemp("", "proxybench-"); err != nil {
		return err
	}
	if err := b.setup(); err != nil {
		return err
	}
	b.results = map[string][]result{}
	// Warm the gateway's caches (JWT verification, decision, assertion)
	// and NGINX's keepalive pools before measuring.
	for _, t := range []string{b.plain, b.authed} {
		if _, err := b.wrk(ctx, t, 2*time.Second); err != nil {
			return err
		}
	}
	for round := 1; round <= b.o.rounds; round++ {
		for _, t := range []string{b.plain, b.authed} {
			cpu0 := procCPU(b.gateway)
			r, err := b.wrk(ctx, t, b.o.duration)
			if err != nil {
				return err
			}
			r.gwCPU = procCPU(b.gateway) - cpu0
			b.results[t] = append(b.results[t], *r)
			fmt.Fprintf(os.Stderr, "round %d %-22s %8.0f req/s  p50 %-8s p99 %s\n", round, label(b, t), r.rps, r.p50, r.p99)
		}
	}
	fmt.Print(b.report())
	return nil
}

func label(b *bench, t string) string {
	if t == b.plain {
		return "nginx"
	}
	return "nginx+auth_request"
}

// setup writes the PKI-free material (the gateway listens on loopback in
// plaintext, as the config allows there), starts the upstream, the gateway
// and NGINX.
func (b *bench) setup() error {
	signer, err := authntest.NewSigner("ES256", authntest.WithKID("bench-1"))
	if err != nil {
		return err
	}
	jwks, err := authntest.JWKS(signer)
	if err != nil {
		return err
	}
	c := authntest.Claims(issuerID, audience, time.Now(), 24*time.Hour)
	c["scope"], c["sub"] = "read", "bench-user"
	if b.token, err = signer.Mint(c); err != nil {
		return err
	}
	files := map[string]string{
		"issuer-jwks.json": string(jwks),
		"bench-api.yaml":   openAPI,
	}
	upAddr, _ := freePort()
	pubAddr, _ := freePort()
	faAddr, _ := freePort()
	files["gatehouse.yaml"] = fmt.Sprintf(gatewayConfig, pubAddr, faAddr, "http://"+upAddr, issuerID, audience)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(b.dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	up, err := b.start("upstream", nil, self, "-role", "upstream", "-addr", upAddr)
	if err != nil {
		return err
	}
	if err := waitListen(up, upAddr); err != nil {
		return err
	}
	gh := b.o.gatehouse
	if gh == "" {
		gh = filepath.Join(b.dir, "gatehouse")
		build := exec.Command("go", "build", "-o", gh, "./cmd/gatehouse")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build gatehouse: %w", err)
		}
	}
	if b.gateway, err = b.start("gatehouse", nil, gh, "run", "-c", filepath.Join(b.dir, "gatehouse.yaml")); err != nil {
		return err
	}
	if err := waitListen(b.gateway, faAddr); err != nil {
		return err
	}
	plain, _ := freePort()
	authed, _ := freePort()
	conf := filepath.Join(b.dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConfig, b.dir, plain, authed, faAddr, upAddr, runtime.NumCPU())), 0o600); err != nil {
		return err
	}
	ng, err := b.start("nginx", nil, b.o.nginx, "-p", b.dir, "-c", conf, "-e", filepath.Join(b.dir, "nginx-error.log"))
	if err != nil {
		return err
	}
	if err := waitListen(ng, authed); err != nil {
		return err
	}
	b.plain, b.authed = "http://"+plain+path, "http://"+authed+path
	return nil
}

var (
	rpsRe = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reqRe = regexp.MustCompile(`(\d+) requests in`)
	pctRe = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	badRe = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

func (b *bench) wrk(ctx context.Context, url string, d time.Duration) (*result, error) {
	cmd := exec.CommandContext(ctx, b.o.wrk, "-t", strconv.Itoa(b.o.threads), "-c", strconv.Itoa(b.o.connections),
		"-d", fmt.Sprintf("%ds", int(d.Seconds())), "--latency", "-H", "Authorization: Bearer "+b.token, url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("wrk: %w: %s", err, out)
	}
	s := string(out)
	if m := badRe.FindStringSubmatch(s); m != nil {
		return nil, fmt.Errorf("%s: %s responses were not 2xx", url, m[1])
	}
	r := &result{}
	if m := rpsRe.FindStringSubmatch(s); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := reqRe.FindStringSubmatch(s); m != nil {
		r.requests, _ = strconv.Atoi(m[1])
	}
	for _, m := range pctRe.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[3]]
		if m[1] == "50" {
			r.p50 = time.Duration(v * float64(unit))
		} else {
			r.p99 = time.Duration(v * float64(unit))
		}
	}
	if r.rps == 0 {
		return nil, fmt.Errorf("cannot read wrk's output: %s", s)
	}
	return r, nil
}

// procCPU is a process's user+system CPU time from /proc (0 elsewhere).
func procCPU(p *proc) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ is 100 on Linux
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (b *bench) report() string {
	agg := func(t string) (rps, p50, p99, cpu float64) {
		var r, a, z, c []float64
		for _, x := range b.results[t] {
			r = append(r, x.rps)
			a = append(a, float64(x.p50))
			z = append(z, float64(x.p99))
			if x.requests > 0 {
				c = append(c, float64(x.gwCPU)/float64(x.requests))
			}
		}
		if len(c) == 0 {
			c = []float64{0}
		}
		return median(r), median(a), median(z), median(c)
	}
	pr, p50, p99, _ := agg(b.plain)
	ar, a50, a99, cpu := agg(b.authed)
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nFront-door load, loopback, %d CPUs, wrk -t%d -c%d, %d round(s) × %s, median per target\n",
		runtime.NumCPU(), b.o.threads, b.o.connections, b.o.rounds, b.o.duration)
	fmt.Fprintf(&sb, "  %-30s %10s %10s %10s\n", "target", "req/s", "p50", "p99")
	fmt.Fprintf(&sb, "  %-30s %10.0f %10s %10s\n", "nginx → upstream", pr, time.Duration(p50).Round(time.Microsecond), time.Duration(p99).Round(time.Microsecond))
	fmt.Fprintf(&sb, "  %-30s %10.0f %10s %10s\n", "nginx + auth_request (JWT)", ar, time.Duration(a50).Round(time.Microsecond), time.Duration(a99).Round(time.Microsecond))
	fmt.Fprintf(&sb, "  throughput ratio auth_request/plain: %.2f\n", ar/pr)
	fmt.Fprintf(&sb, "  gateway CPU per authorized request: %s\n", time.Duration(cpu).Round(100*time.Nanosecond))
	return sb.String()
}
