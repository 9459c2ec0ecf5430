package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

type report struct {
	maxRate, rate       float64
	workers             int
	duration            time.Duration
	load                []string // load averages before and after
	samples             []sample // start, minute 2, middle, end, after load
	series              []sample // every 5 s during the load
	traffic             trafficStats
	reloads, badReloads int64
	flaps               int64
}

func loadAvg() []string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return []string{"?"}
	}
	f := strings.Fields(string(b))
	return []string{strings.Join(f[:min(3, len(f))], " ")}
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			_, v, _ := strings.Cut(l, ":")
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// heapMedian is the median heap in use of the samples within [from, to).
func (r *report) heapMedian(from, to time.Duration) float64 {
	var xs []float64
	for _, s := range r.series {
		if s.at >= from && s.at < to && s.heapInuse > 0 {
			xs = append(xs, s.heapInuse)
		}
	}
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func (r *report) render() (string, bool) {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p("gatehouse soak — %s", time.Now().UTC().Format(time.RFC3339))
	p("machine: %d CPUs (%s), %s; load average before / after: %s", runtime.NumCPU(), cpuModel(), runtime.GOOS, strings.Join(r.load, " / "))
	p("rate: measured maximum %.0f req/s (closed loop, same mix, load generator on the same cores); soaked at %.0f req/s for %s", r.maxRate, r.rate, r.duration)
	p("policy rewrites: %d (%d broken); JWKS flaps: %d", r.reloads, r.badReloads, r.flaps)
	p("")
	p("%-12s %8s %12s %14s %8s", "when", "at", "goroutines", "heap in use", "fds")
	for _, s := range r.samples {
		p("%-12s %8s %12.0f %11.1f MiB %8.0f", s.label, s.at.Round(time.Second), s.goroutines, s.heapInuse/(1<<20), s.fds)
	}
	p("")
	var validSent, validFailed, hostileSent, hostileOK, noAnswer int64
	p("%-26s %8s %8s %8s  %s", "traffic", "sent", "2xx", "failed", "statuses")
	for _, k := range r.traffic.kinds {
		var st []string
		keys := make([]int, 0, len(k.statuses))
		for code := range k.statuses {
			keys = append(keys, code)
		}
		sort.Ints(keys)
		for _, code := range keys {
			st = append(st, fmt.Sprintf("%d×%d", code, k.statuses[code]))
		}
		tag := "hostile"
		if k.valid {
			tag = "valid"
			validSent += k.sent
			validFailed += k.failed
		} else {
			hostileSent += k.sent
			hostileOK += k.ok
			noAnswer += k.failed
		}
		p("%-26s %8d %8d %8d  %s (%s)", k.name, k.sent, k.ok, k.failed, strings.Join(st, " "), tag)
	}
	p("not sent (all %d workers busy): %d; upstream requests: %d; protected requests without assertion at the upstream: %d",
		r.workers, r.traffic.dropped, r.traffic.upstream, r.traffic.unasserted)
	p("")

	pass := true
	check := func(ok bool, format string, a ...any) {
		mark := "PASS"
		if !ok {
			mark, pass = "FAIL", false
		}
		p("%s  "+format, append([]any{mark}, a...)...)
	}
	m2 := min(2*time.Minute, r.duration/5)
	h2 := r.heapMedian(m2-30*time.Second, m2+30*time.Second)
	hEnd := r.heapMedian(r.duration-time.Minute, r.duration+time.Second)
	growth := 0.0
	if h2 > 0 {
		growth = (hEnd - h2) / h2 * 100
	}
	base, after := r.samples[0], r.samples[len(r.samples)-1]
	check(validFailed == 0, "valid requests failed: %d of %d", validFailed, validSent)
	check(hostileOK == 0 && r.traffic.unasserted == 0, "2xx given to hostile traffic: %d of %d (no answer: %d)", hostileOK, hostileSent, noAnswer)
	check(growth < 10, "heap in use (medians of 5 s samples) %.1f MiB at minute %s → %.1f MiB at the end: %+.1f%% (target < 10%%)",
		h2/(1<<20), m2, hEnd/(1<<20), growth)
	check(after.goroutines <= base.goroutines*1.05+20, "goroutines after the load %.0f, baseline %.0f (target ≤ +5%% or +20)", after.goroutines, base.goroutines)
	check(after.fds <= base.fds*1.05+20, "open fds after the load %.0f, baseline %.0f", after.fds, base.fds)
	return b.String(), pass
}
