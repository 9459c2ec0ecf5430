// Command loadbench is the loopback load comparison of `make bench`: wrk
// against an upstream, a bare TLS reverse proxy, and the real gatehouse
// binary on the same upstream, in alternating rounds, reported as
// throughput and p50/p99 latency and as ratios to the bare proxy measured in
// the same round.
//
//	go run ./cmd/loadbench -wrk wrk                 # 3 rounds × 10 s per target
//	go run ./cmd/loadbench -quick                   # one short round, a smoke test
//	go run ./cmd/loadbench -out bench-results.txt   # also write the report
//
// Every target is its own process on its own loopback port: the upstream and
// the bare proxy are this program re-executed (-role), the gateway is
// `gatehouse run -c <generated config>` built from this tree, logging as it
// ships (JSON, info, audit lines on) to a file. The Makefile's bench-load
// target runs it.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

const (
	issuerID  = "https://issuer.loadbench.local/"
	audience  = "bench"
	basePath  = "/bench/v1"
	jwtPath   = basePath + "/items/42"
	publicURL = basePath + "/health"
	// upstreamBody is the small answer of the upstream.
	upstreamBody = `{"id":42,"name":"bench item","status":"ok"}` + "\n"
)

type options struct {
	wrk         string
	duration    time.Duration
	warmup      time.Duration
	rounds      int
	connections int
	threads     int
	quick       bool
	out         string
	gatehouse   string
	cpuprofile  string
	keep        bool
	quietWait   time.Duration
	retries     int
	gatewayEnv  string
	variants    string
	only        string
	fill        int
	flood       bool
}

// hidden flags: roles of re-executed children, profiling, debugging.
var hidden = map[string]bool{"role": true, "addr": true, "upstream": true, "cert": true, "key": true, "cpuprofile": true, "keep": true, "gateway-env": true, "variants": true, "only": true}

func main() {
	var o options
	role := flag.String("role", "", "internal: run as upstream or bareproxy")
	addr := flag.String("addr", "", "internal: listen address of a role")
	upstream := flag.String("upstream", "", "internal: upstream URL of the bare proxy")
	cert := flag.String("cert", "", "internal: certificate file of the bare proxy")
	key := flag.String("key", "", "internal: key file of the bare proxy")
	flag.StringVar(&o.wrk, "wrk", "wrk", "wrk binary")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of one measurement")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; each runs every target once")
	flag.IntVar(&o.connections, "connections", 64, "wrk connections")
	flag.IntVar(&o.threads, "threads", 2, "wrk threads")
	flag.BoolVar(&o.quick, "quick", false, "smoke run: 1 round of 3 s per target")
	flag.StringVar(&o.out, "out", "", "also write the report to this file (e.g. bench-results.txt)")
	flag.StringVar(&o.gatehouse, "gatehouse", "", "gatehouse binary (default: build ./cmd/gatehouse from this tree)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "prefix: after the rounds, profile the gateway (repeated and fresh token) into <prefix>-jwt-*.pprof")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (configs, tokens, gateway logs)")
	flag.DurationVar(&o.quietWait, "quiet-wait", 2*time.Minute, "before each measurement, wait up to this long for other load on the machine to drop below 10% (0: never wait)")
	flag.IntVar(&o.retries, "retries", 2, "measure again (up to this many times) when other processes took more than 10% of the CPU meanwhile")
	flag.StringVar(&o.gatewayEnv, "gateway-env", "", "extra environment of the gateway processes, comma-separated (e.g. GOGC=200)")
	flag.StringVar(&o.variants, "variants", "", "extra gateways measured on the repeated token in the same rounds: name=ENV[,ENV];… (e.g. gogc400=GOGC=400)")
	flag.StringVar(&o.only, "only", "", "measure only these targets, comma-separated (the bare proxy always runs)")
	flag.IntVar(&o.fill, "fill", 100_000, "first-seen tokens sent to the filled gateway before its repeated-token row")
	flag.BoolVar(&o.flood, "flood", true, "measure the forged-token flood in every round (target names flood, flood-bare with -only)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./cmd/loadbench [flags]\n\n")
		flag.VisitAll(func(f *flag.Flag) {
			if !hidden[f.Name] {
				fmt.Fprintf(flag.CommandLine.Output(), "  -%s\t%s (default %q)\n", f.Name, f.Usage, f.DefValue)
			}
		})
	}
	flag.Parse()

	switch *role {
	case "upstream":
		fatal(serveUpstream(*addr))
	case "bareproxy":
		fatal(serveBareProxy(*addr, *upstream, *cert, *key))
	case "":
	default:
		fatal(fmt.Errorf("unknown role %q", *role))
	}
	if o.quick {
		o.rounds, o.duration = 1, 3*time.Second
		if !flagSet("fill") {
			o.fill = 10_000
		}
	}
	o.warmup = 3 * time.Second
	if o.duration < 5*time.Second {
		o.warmup = 2 * time.Second
	}
	if o.rounds < 1 || o.connections < 1 || o.threads < 1 || o.duration < time.Second {
		fatal(errors.New("-rounds, -connections, -threads must be ≥ 1 and -duration ≥ 1s"))
	}
	b := &bench{opts: o}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := b.run(ctx)
	b.cleanup()
	fatal(err)
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// keepTarget reports whether -only (a comma-separated list, empty for all)
// selects the target name.
func keepTarget(only, name string) bool {
	if only == "" {
		return true
	}
	for _, n := range strings.Split(only, ",") {
		if strings.TrimSpace(n) == name {
			return true
		}
	}
	return false
}

func fatal(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadbench: %v\n", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadbench: "+format+"\n", args...)
}

type target struct {
	name  string
	label string
	url   string
	proc  *proc // the process whose CPU is the proxy's (upstream for the direct target)
	fresh bool  // one pre-minted token per request
	token bool  // send the repeated token
	// header is one more "Name: value" header every request sends.
	header string
	// bearer, when set, is this target's own repeated token (opaque
	// tokens of a key manager).
	bearer string
}

type bench struct {
	opts     options
	work     string
	root     string
	binary   string
	revision string
	pki      struct {
		caFile, certFile, keyFile string
		pool                      *x509.CertPool
	}
	signer *authntest.Signer
	// fillSigner mints the tokens that fill the filled gateway's caches.
	fillSigner *authntest.Signer
	filled     *filledGateway
	floods     []*floodResult
	// floodTargets are the bare proxy and the gateway under the flood.
	floodTargets []*target
	token        string
	procs        []*proc
	targets      []*target
	logs         map[string]string // gateway config name → log file
	// upstream is the plain-HTTP upstream every gateway proxies to.
	upstream string

	minted   []string
	tokenOff int // next unused fresh token
	reused   int // fresh requests that had to reuse a token

	results []*result
	warm    map[string]*result
}

func (b *bench) run(ctx context.Context) error {
	var err error
	if b.work, err = os.MkdirTemp("", "gatehouse-loadbench-"); err != nil {
		return err
	}
	if err := b.build(); err != nil {
		return err
	}
	if err := b.setup(); err != nil {
		return err
	}
	if err := b.preflight(); err != nil {
		return err
	}
	if b.filled != nil {
		before := memoryFacts(b.filled.proc, b.filled.admin)
		n, err := b.fill(ctx, "https://"+b.filled.addr+jwtPath, b.opts.fill)
		if err != nil {
			return err
		}
		b.filled.note = fmt.Sprintf("%d first-seen ES256 tokens answered 200 (cache_ttl %s); before: %s; after: %s",
			n, filledTTL, before, memoryFacts(b.filled.proc, b.filled.admin))
		logf("filled gateway: %s", b.filled.note)
	}
	logf("warming up every target for %s", b.opts.warmup)
	b.warm = map[string]*result{}
	for _, t := range b.targets {
		if t.fresh {
			continue
		}
		r, err := b.measure(ctx, t, 0, b.opts.warmup)
		if err != nil {
			logf("warm-up of %s: %v", t.name, err) // the rounds will tell
			continue
		}
		b.warm[t.name] = r
	}
	for round := 1; round <= b.opts.rounds; round++ {
		for _, t := range b.targets {
			if err := ctx.Err(); err != nil {
				return err
			}
			r, err := b.measure(ctx, t, round, b.opts.duration)
			for try := 0; err == nil && r.foreign > 0.10 && try < b.opts.retries; try++ {
				logf("round %d %s: other processes took %.0f%% of the CPU; measuring again", round, t.name, 100*r.foreign)
				r, err = b.measure(ctx, t, round, b.opts.duration)
			}
			if err != nil {
				return err
			}
			logf("round %d %-16s %9.0f req/s  p50 %-8s p99 %-8s  non-2xx %d  foreign CPU %.0f%%",
				round, t.name, r.rps, fmtDur(r.p50), fmtDur(r.p99), r.non2xx, 100*r.foreign)
			b.results = append(b.results, r)
		}
		if err := b.floodRound(ctx, round); err != nil {
			return err
		}
	}
	report := b.report()
	fmt.Print(report)
	if b.opts.out != "" {
		if err := os.WriteFile(b.opts.out, []byte(report), 0o644); err != nil {
			return err
		}
		logf("report written to %s", b.opts.out)
	}
	if b.opts.cpuprofile != "" {
		return b.profile(ctx)
	}
	return nil
}

func (b *bench) cleanup() {
	for _, p := range b.procs {
		p.stop(5 * time.Second)
	}
	if b.work != "" && !b.opts.keep {
		_ = os.RemoveAll(b.work)
	} else if b.work != "" {
		logf("work directory kept: %s", b.work)
	}
}

// setup writes PKI, keys, the API, the configs, and starts every process.
func (b *bench) setup() error {
	w := b.work
	ca, err := authntest.NewCA(authntest.WithCommonName("Gatehouse Loadbench CA"))
	if err != nil {
		return err
	}
	srv, err := ca.Server()
	if err != nil {
		return err
	}
	if b.pki.caFile, _, err = ca.Cert.WriteFiles(w, "ca"); err != nil {
		return err
	}
	if b.pki.certFile, b.pki.keyFile, err = srv.WriteFiles(w, "server"); err != nil {
		return err
	}
	b.pki.pool = ca.Pool()
	if b.signer, err = authntest.NewSigner("RS256", authntest.WithKID("loadbench-1")); err != nil {
		return err
	}
	if b.fillSigner, err = authntest.NewSigner("ES256", authntest.WithKID(fillKID)); err != nil {
		return err
	}
	jwks, err := authntest.JWKS(b.signer, b.fillSigner)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(w, "issuer-jwks.json"), jwks, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(w, "bench-api.json"), openAPI(), 0o644); err != nil {
		return err
	}
	if b.token, err = b.mint(0); err != nil {
		return err
	}

	upAddr, err := freePort()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	up, err := b.start("upstream", filepath.Join(w, "upstream.log"), nil, self, "-role", "upstream", "-addr", upAddr)
	if err != nil {
		return err
	}
	bareAddr, err := freePort()
	if err != nil {
		return err
	}
	bare, err := b.start("bare proxy", filepath.Join(w, "bareproxy.log"), nil, self, "-role", "bareproxy", "-addr", bareAddr,
		"-upstream", "http://"+upAddr, "-cert", b.pki.certFile, "-key", b.pki.keyFile)
	if err != nil {
		return err
	}
	b.logs = map[string]string{}
	b.upstream = "http://" + upAddr
	gw, gwAddr, err := b.gateway("gatehouse", "http://"+upAddr, true, nil)
	if err != nil {
		return err
	}
	gwQuiet, gwQuietAddr, err := b.gateway("gatehouse-noaudit", "http://"+upAddr, false, nil)
	if err != nil {
		return err
	}
	if keepTarget(b.opts.only, "jwt-repeated-100k") {
		p, addr, admin, err := b.gatewayTTL("gatehouse-filled", "http://"+upAddr, true, filledTTL, nil)
		if err != nil {
			return err
		}
		b.filled = &filledGateway{proc: p, addr: addr, admin: admin}
	}
	b.targets = []*target{
		{name: "upstream", label: "upstream direct (plain HTTP)", url: "http://" + upAddr + jwtPath, proc: up, token: true},
		{name: "bare", label: "bare ReverseProxy, TLS, tuned", url: "https://" + bareAddr + jwtPath, proc: bare, token: true},
		{name: "jwt-repeated", label: "gatehouse JWT, repeated token", url: "https://" + gwAddr + jwtPath, proc: gw, token: true},
		{name: "jwt-fresh", label: "gatehouse JWT, fresh RS256/req", url: "https://" + gwAddr + jwtPath, proc: gw, fresh: true},
		{name: "public", label: "gatehouse public route", url: "https://" + gwAddr + publicURL, proc: gw},
		{name: "jwt-repeated-noaudit", label: "  same, log.audit: false", url: "https://" + gwQuietAddr + jwtPath, proc: gwQuiet, token: true},
	}
	if b.opts.flood && (keepTarget(b.opts.only, "flood") || keepTarget(b.opts.only, "flood-bare")) {
		b.floodTargets = []*target{
			{name: "flood-bare", label: "bare ReverseProxy, TLS, tuned", url: "https://" + bareAddr + jwtPath, proc: bare},
			{name: "flood", label: "gatehouse JWT", url: "https://" + gwAddr + jwtPath, proc: gw},
		}
	}
	if b.filled != nil {
		b.targets = append(b.targets, &target{name: "jwt-repeated-100k",
			label: fmt.Sprintf("  same, after %dk first-seen", b.opts.fill/1000),
			url:   "https://" + b.filled.addr + jwtPath, proc: b.filled.proc, token: true})
	}
	if b.opts.only == "" || strings.Contains(b.opts.only, "mtls-forwarded") {
		if err := b.setupMTLS("http://" + upAddr); err != nil {
			return err
		}
	}
	for _, v := range strings.Split(b.opts.variants, ";") {
		name, env, ok := strings.Cut(v, "=")
		if !ok {
			continue
		}
		p, addr, err := b.gateway("gatehouse-"+name, "http://"+upAddr, true, strings.Split(env, ","))
		if err != nil {
			return err
		}
		b.targets = append(b.targets, &target{name: "jwt-repeated@" + name, label: "  same, " + env,
			url: "https://" + addr + jwtPath, proc: p, token: true})
	}
	kms, err := b.keyManagerTargets("http://" + upAddr)
	if err != nil {
		return err
	}
	b.targets = append(b.targets, kms...)
	if b.opts.only != "" {
		keep := map[string]bool{"bare": true}
		for _, n := range strings.Split(b.opts.only, ",") {
			keep[strings.TrimSpace(n)] = true
		}
		kept := b.targets[:0]
		for _, t := range b.targets {
			if keep[t.name] {
				kept = append(kept, t)
			}
		}
		b.targets = kept
	}
	return nil
}
