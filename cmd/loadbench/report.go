package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minMax(xs []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%dµs", d.Microseconds())
}

func machineFacts() (cpuModel, kernel string) {
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpuModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		kernel = strings.TrimSpace(string(out))
	}
	return cpuModel, kernel
}

func (b *bench) report() string {
	o := b.opts
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	cpuModel, kernel := machineFacts()
	nproc := "?"
	if out, err := exec.Command("nproc").Output(); err == nil {
		nproc = strings.TrimSpace(string(out))
	}
	wrkVersion := ""
	if out, _ := exec.Command(o.wrk, "--version").CombinedOutput(); len(out) > 0 {
		wrkVersion, _, _ = strings.Cut(string(out), "\n")
		wrkVersion = strings.TrimSpace(strings.SplitN(wrkVersion, "Copyright", 2)[0])
	}
	load, _ := os.ReadFile("/proc/loadavg")
	p("Gatehouse loopback load comparison (cmd/loadbench)\n\n")
	p("  date       %s\n", time.Now().UTC().Format(time.RFC3339))
	p("  machine    nproc %s, %s, %s, load average at the end %s\n", nproc, cpuModel, kernel, strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
	p("  go         %s %s/%s, GOMAXPROCS %d (all processes: runtime defaults)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0))
	p("  wrk        %s\n", wrkVersion)
	p("  gatehouse  %s\n", b.revision)
	if o.gatewayEnv != "" {
		p("  gateway environment  %s\n", o.gatewayEnv)
	}
	p("\n  method     wrk -t%d -c%d -d%s --latency; %d round(s), each running every target once in the\n", o.threads, o.connections, o.duration, o.rounds)
	p("             order below, after a %s warm-up of each; ratios are taken within a round against the\n", o.warmup)
	p("             bare proxy of that round, then the median over rounds is shown [min–max].\n")
	p("             Every target is its own process on loopback, sharing the %s cores with wrk and the\n", nproc)
	p("             upstream (a Go server answering 200 with a %d-byte body). The bare proxy is\n", len(upstreamBody))
	p("             httputil.ReverseProxy with a tuned transport (256 idle conns/host) and a buffer pool,\n")
	p("             TLS with the gateway's certificate; the gateway is `gatehouse run` built from this tree,\n")
	p("             default logging (JSON, info, one audit line per request) to a file. The JWT route\n")
	p("             needs read:items from an RS256 issuer (JWKS file); the repeated token is verified once\n")
	p("             and then served from the verified-token cache; fresh tokens are pre-minted, one per\n")
	p("             request, never sent twice (wrk Lua script). CPU µs/req is the proxy process's own CPU\n")
	p("             (utime+stime) per request (the upstream's for the direct row). Foreign CPU is the\n")
	p("             machine's CPU used by processes outside this benchmark while it measured.\n\n")

	names := []string{}
	byName := map[string][]*result{}
	bare := map[int]*result{}
	for _, r := range b.results {
		if _, ok := byName[r.target.name]; !ok {
			names = append(names, r.target.name)
		}
		byName[r.target.name] = append(byName[r.target.name], r)
		if r.target.name == "bare" {
			bare[r.round] = r
		}
	}
	ratio := func(rs []*result, f func(*result) float64) (float64, float64, float64) {
		var xs []float64
		for _, r := range rs {
			if br := bare[r.round]; br != nil && f(br) > 0 {
				xs = append(xs, f(r)/f(br))
			}
		}
		lo, hi := minMax(xs)
		return median(xs), lo, hi
	}
	rng := func(m, lo, hi float64) string {
		if o.rounds == 1 {
			return fmt.Sprintf("%.2f", m)
		}
		return fmt.Sprintf("%.2f [%.2f–%.2f]", m, lo, hi)
	}
	p("%-32s %8s  %-17s %8s  %-17s %8s  %-17s %10s %9s\n", "target", "req/s", "× bare", "p50", "× bare", "p99", "× bare", "CPU µs/req", "Δ vs bare")
	var bareCPU float64
	if rs := byName["bare"]; len(rs) > 0 {
		var xs []float64
		for _, r := range rs {
			xs = append(xs, r.cpu.Seconds()*1e6/float64(max(r.requests, 1)))
		}
		bareCPU = median(xs)
	}
	summary := map[string]float64{}
	for _, n := range names {
		rs := byName[n]
		var rps, p50, p99, cpu []float64
		for _, r := range rs {
			rps = append(rps, r.rps)
			p50 = append(p50, float64(r.p50))
			p99 = append(p99, float64(r.p99))
			cpu = append(cpu, r.cpu.Seconds()*1e6/float64(max(r.requests, 1)))
		}
		tr, tlo, thi := ratio(rs, func(r *result) float64 { return r.rps })
		lr, llo, lhi := ratio(rs, func(r *result) float64 { return float64(r.p50) })
		hr, hlo, hhi := ratio(rs, func(r *result) float64 { return float64(r.p99) })
		summary[n] = tr
		plus := ""
		if n != "upstream" && n != "bare" {
			plus = fmt.Sprintf("%+.0f", median(cpu)-bareCPU)
		}
		p("%-32s %8.0f  %-17s %8s  %-17s %8s  %-17s %10.0f %9s\n", rs[0].target.label, median(rps), rng(tr, tlo, thi),
			fmtDur(time.Duration(median(p50))), rng(lr, llo, lhi), fmtDur(time.Duration(median(p99))), rng(hr, hlo, hhi), median(cpu), plus)
	}
	p("(latency ratios above 1 are slower than the bare proxy; Δ is the proxy's extra CPU per request)\n")
	p("\ntargets from the issue (throughput × bare proxy, median over rounds):\n")
	verdict := func(v, goal float64) string {
		if v >= goal {
			return "met"
		}
		return "MISSED"
	}
	if v, ok := summary["jwt-repeated"]; ok {
		p("  repeated token     %.2f× (goal ≥ 0.90)  %s\n", v, verdict(v, 0.90))
	}
	if v, ok := summary["jwt-fresh"]; ok {
		p("  fresh RS256 token  %.2f× (goal ≥ 0.50)  %s\n", v, verdict(v, 0.50))
	}
	if v, ok := summary["jwt-repeated-100k"]; ok {
		before := summary["jwt-repeated"]
		change := 100 * (v/before - 1)
		p("  repeated token after %dk first-seen  %.2f× vs %.2f× on the unfilled gateway (%+.1f%%; goal within 3%%)  %s\n",
			o.fill/1000, v, before, change, verdict(change, -3))
	}
	if v, ok := summary["jwt-repeated-noaudit"]; ok {
		p("  audit log on/off   %.2f× vs %.2f× (repeated token)\n", summary["jwt-repeated"], v)
	}

	if b.filled != nil {
		p("  filled gateway: %s\n", b.filled.note)
	}
	sb.WriteString(b.floodReport())

	p("\nevery measurement (CPU µs: the proxy's, or the upstream's, per request; wrk µs: the load generator's):\n")
	p("  %-5s %-22s %9s %9s %9s %9s %8s %8s %8s %8s %8s  %s\n", "round", "target", "req/s", "requests", "p50", "p99", "CPU µs", "wrk µs", "non-2xx", "sockerr", "foreign", "")
	bad := 0
	for _, r := range b.results {
		note := r.tokens
		if r.foreign > 0.05 {
			note = strings.TrimSpace(note + "  (other load on the machine)")
		}
		bad += int(r.non2xx + r.sockErrs)
		perReq := func(d time.Duration) float64 { return d.Seconds() * 1e6 / float64(max(r.requests, 1)) }
		p("  %-5d %-22s %9.0f %9d %9s %9s %8.0f %8.0f %8d %8d %7.0f%%  %s\n", r.round, r.target.name, r.rps, r.requests, fmtDur(r.p50), fmtDur(r.p99),
			perReq(r.cpu), perReq(r.wrkCPU), r.non2xx, r.sockErrs, 100*r.foreign, note)
	}
	if bad > 0 {
		p("\n  WARNING: %d non-2xx answers or socket errors: those runs do not measure the intended path.\n", bad)
	}
	for name, f := range b.logs {
		if n, size := countLines(f); n > 0 {
			p("  %s log: %d lines, %.1f MB (%s)\n", name, n, float64(size)/1e6, "JSON, info")
		}
	}
	return sb.String()
}

func countLines(path string) (int, int64) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	n := 0
	var size int64
	buf := make([]byte, 1<<20)
	for {
		k, err := f.Read(buf)
		size += int64(k)
		n += strings.Count(string(buf[:k]), "\n")
		if err != nil {
			return n, size
		}
	}
}

// profile runs a dedicated gateway with GATEHOUSE_CPUPROFILE set (honoured by
// `gatehouse run`) for one measurement of each JWT case, and prints the top
// of each profile.
func (b *bench) profile(ctx context.Context) error {
	// Not b.targets[0]: with -only the upstream row is filtered out and the
	// first target is the bare proxy, which would put a TLS hop in the profile.
	up := b.upstream
	for _, tname := range []string{"jwt-repeated", "jwt-fresh"} {
		var tmpl *target
		for _, t := range b.targets {
			if t.name == tname {
				tmpl = t
			}
		}
		if tmpl == nil {
			continue // left out with -only
		}
		file, err := filepath.Abs(b.opts.cpuprofile + "-" + tname + ".pprof")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return err
		}
		cmd, addr, err := b.gateway("gatehouse-profile-"+tname, up, true, []string{"GATEHOUSE_CPUPROFILE=" + file})
		if err != nil {
			return err
		}
		t := *tmpl
		t.url, t.proc = "https://"+addr+jwtPath, cmd
		if _, err := b.measure(ctx, &t, 0, b.opts.warmup); err != nil {
			return err
		}
		r, err := b.measure(ctx, &t, b.opts.rounds+1, b.opts.duration)
		if err != nil {
			return err
		}
		cmd.stop(30 * time.Second) // the profile is written on the way out
		logf("profile of %s (%.0f req/s while profiled) written to %s", tname, r.rps, file)
		top := exec.Command("go", "tool", "pprof", "-top", "-nodecount=35", b.binary, file)
		top.Stdout, top.Stderr = os.Stdout, os.Stderr
		fmt.Printf("\n==== CPU profile: %s ====\n", tname)
		_ = top.Run()
	}
	return nil
}
