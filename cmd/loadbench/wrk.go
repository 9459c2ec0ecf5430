package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

func (b *bench) mint(i int) (string, error) {
	c := authntest.Claims(issuerID, audience, time.Now(), 3*time.Hour)
	c["sub"] = "user-" + strconv.Itoa(i)
	c["client_id"] = "bench-app"
	c["scope"] = "read:items"
	return b.signer.Mint(c)
}

// ensureTokens mints fresh tokens until n exist, on every core (nothing is
// being measured meanwhile).
func (b *bench) ensureTokens(ctx context.Context, n int) error {
	have := len(b.minted)
	if n <= have {
		return nil
	}
	start := time.Now()
	toks := make([]string, n-have)
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(toks) || ctx.Err() != nil {
					return
				}
				t, err := b.mint(have + i + 1)
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				toks[i] = t
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return *e
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.minted = append(b.minted, toks...)
	logf("minted %d fresh RS256 tokens in %s (%d in total)", len(toks), time.Since(start).Round(100*time.Millisecond), len(b.minted))
	return nil
}

type result struct {
	target   *target
	round    int
	rps      float64
	requests int64
	p50, p99 time.Duration
	non2xx   int64
	sockErrs int64
	cpu      time.Duration // CPU time of the proxy (or upstream) process
	wrkCPU   time.Duration
	foreign  float64 // share of the machine's CPU used by processes outside the benchmark
	tokens   string
}

// freshScript sends one pre-minted token per request: wrk thread t reads
// the file <args[1]>.<t>, and never sends a token twice (it wraps, and says
// so, only if the file runs out).
const freshScript = `
local threads, nextid = {}, 0
function setup(thread)
  thread:set("tid", nextid)
  nextid = nextid + 1
  table.insert(threads, thread)
end
local toks, pre, post = {}, "", ""
n, used = 0, 0
function init(args)
  local f = assert(io.open(args[1] .. "." .. tid, "r"))
  for line in f:lines() do n = n + 1; toks[n] = line end
  f:close()
  local tmpl = wrk.format(nil, nil, {["Authorization"] = "Bearer @TOKEN@"})
  local i, j = string.find(tmpl, "@TOKEN@", 1, true)
  pre, post = string.sub(tmpl, 1, i - 1), string.sub(tmpl, j + 1)
end
function request()
  used = used + 1
  local k = used
  if k > n then k = ((k - 1) % n) + 1 end
  return pre .. toks[k] .. post
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("fresh-tokens thread=%d used=%d available=%d\n", t:get("tid"), t:get("used"), t:get("n")))
  end
end
`

func (b *bench) measure(ctx context.Context, t *target, round int, d time.Duration) (*result, error) {
	o := b.opts
	args := []string{"-t", strconv.Itoa(o.threads), "-c", strconv.Itoa(o.connections),
		"-d", strconv.Itoa(int(math.Round(d.Seconds()))) + "s", "--latency", "--timeout", "10s"}
	var perThread int
	if t.fresh {
		est := b.estimateFresh()
		perThread = int(est*d.Seconds()*1.3)/o.threads + 500
		if err := b.ensureTokens(ctx, b.tokenOff+perThread*o.threads); err != nil {
			return nil, err
		}
		base := filepath.Join(b.work, fmt.Sprintf("fresh-r%d.tok", round))
		for th := range o.threads {
			var sb strings.Builder
			for k := range perThread {
				sb.WriteString(b.minted[b.tokenOff+th+k*o.threads])
				sb.WriteByte('\n')
			}
			if err := os.WriteFile(fmt.Sprintf("%s.%d", base, th), []byte(sb.String()), 0o600); err != nil {
				return nil, err
			}
		}
		script := filepath.Join(b.work, "fresh.lua")
		if err := os.WriteFile(script, []byte(freshScript), 0o644); err != nil {
			return nil, err
		}
		args = append(args, "-s", script, t.url, "--", base)
	} else {
		if t.bearer != "" {
			args = append(args, "-H", "Authorization: Bearer "+t.bearer)
		} else if t.token {
			args = append(args, "-H", "Authorization: Bearer "+b.token)
		}
		if t.header != "" {
			args = append(args, "-H", t.header)
		}
		args = append(args, t.url)
	}
	b.waitQuiet(ctx)
	cmd := exec.CommandContext(ctx, o.wrk, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cpu0 := procCPU(t.proc)
	busy0, total0 := machineCPU()
	ours0 := b.ourCPU()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	busy1, total1 := machineCPU()
	r, err := parseWrk(out.String())
	if err != nil {
		return nil, fmt.Errorf("wrk %s: %w\n%s", t.name, err, out.String())
	}
	r.target, r.round = t, round
	r.cpu = procCPU(t.proc) - cpu0
	r.wrkCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	ours := (b.ourCPU() - ours0 + r.wrkCPU).Seconds()
	if dt := total1 - total0; dt > 0 {
		r.foreign = math.Max(0, (busy1-busy0-ours)/dt)
	}
	if r.non2xx > 0 || r.sockErrs > 0 {
		logf("WARNING: %s round %d: %d non-2xx answers, %d socket errors", t.name, round, r.non2xx, r.sockErrs)
	}
	if t.fresh {
		used, wrapped := 0, 0
		for _, m := range freshRe.FindAllStringSubmatch(out.String(), -1) {
			u, _ := strconv.Atoi(m[1])
			a, _ := strconv.Atoi(m[2])
			used = max(used, u)
			wrapped += max(0, u-a)
		}
		b.tokenOff += min(used, perThread) * o.threads
		b.reused += wrapped
		r.tokens = fmt.Sprintf("%d tokens sent once each", r.requests)
		if wrapped > 0 {
			r.tokens = fmt.Sprintf("%d requests reused a token of this round", wrapped)
		}
	}
	return r, nil
}

// waitQuiet samples the machine a second at a time until processes outside
// the benchmark use less than 10% of its CPU, or gives up after -quiet-wait
// (the measurement then shows the foreign share in the report).
func (b *bench) waitQuiet(ctx context.Context) {
	if b.opts.quietWait <= 0 {
		return
	}
	start := time.Now()
	waited := false
	for {
		busy0, total0 := machineCPU()
		ours0 := b.ourCPU()
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		busy1, total1 := machineCPU()
		foreign := 0.0
		if dt := total1 - total0; dt > 0 {
			foreign = (busy1 - busy0 - (b.ourCPU() - ours0).Seconds()) / dt
		}
		switch {
		case foreign < 0.10:
			if waited {
				logf("machine quiet again after %s", time.Since(start).Round(time.Second))
			}
			return
		case time.Since(start) > b.opts.quietWait:
			logf("other processes still use %.0f%% of the CPU after %s; measuring anyway", 100*foreign, b.opts.quietWait)
			return
		case !waited:
			logf("waiting: other processes use %.0f%% of the CPU", 100*foreign)
			waited = true
		}
	}
}

var freshRe = regexp.MustCompile(`fresh-tokens thread=\d+ used=(\d+) available=(\d+)`)

// estimateFresh guesses the fresh-token throughput to mint enough tokens:
// the last fresh round, else 0.8 of the repeated-token warm-up (first-seen
// tokens cost more than cached ones).
func (b *bench) estimateFresh() float64 {
	est := 0.0
	for _, r := range b.results {
		if r.target.fresh {
			est = max(est, r.rps)
		}
	}
	if est == 0 {
		if w := b.warm["jwt-repeated"]; w != nil {
			est = 0.8 * w.rps
		} else {
			est = 5000
		}
	}
	return est
}

// ourCPU is the CPU time of this process and its children (wrk excluded,
// counted from its own process state).
func (b *bench) ourCPU() time.Duration {
	total := procCPU(nil)
	for _, p := range b.procs {
		total += procCPU(p)
	}
	return total
}

// procCPU reads utime+stime of a process (this one for nil) from /proc.
func procCPU(p *proc) time.Duration {
	pid := os.Getpid()
	if p != nil {
		pid = p.cmd.Process.Pid
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	// Fields after the command: state(0) … utime(11) stime(12), in clock
	// ticks (USER_HZ, 100 on Linux).
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// machineCPU returns busy and total CPU seconds of the machine (/proc/stat).
func machineCPU() (busy, total float64) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0
	}
	var v []float64
	for _, x := range f[1:] {
		n, _ := strconv.ParseFloat(x, 64)
		v = append(v, n/100)
	}
	for _, x := range v[:min(len(v), 8)] { // guest time is already in user
		total += x
	}
	return total - v[3] - v[4], total // idle, iowait
}

var (
	rpsRe     = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	countRe   = regexp.MustCompile(`(?m)^\s*(\d+) requests in ([0-9.]+)(us|ms|s|m|h)`)
	pctRe     = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.0+)?%\s+([0-9.]+)(us|ms|s|m|h)\s*$`)
	non2xxRe  = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	sockErrRe = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func unit(v float64, u string) time.Duration {
	m := map[string]float64{"us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}[u]
	return time.Duration(v * m)
}

// parseWrk reads the summary of `wrk --latency`.
func parseWrk(s string) (*result, error) {
	r := &result{}
	m := rpsRe.FindStringSubmatch(s)
	if m == nil {
		return nil, errors.New("no Requests/sec line")
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := countRe.FindStringSubmatch(s); m != nil {
		r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	for _, m := range pctRe.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		if m[1] == "50" {
			r.p50 = unit(v, m[3])
		} else {
			r.p99 = unit(v, m[3])
		}
	}
	if r.p50 == 0 || r.p99 == 0 {
		return nil, errors.New("no latency distribution (50% and 99% lines)")
	}
	if m := non2xxRe.FindStringSubmatch(s); m != nil {
		r.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := sockErrRe.FindStringSubmatch(s); m != nil {
		for _, x := range m[1:] {
			n, _ := strconv.ParseInt(x, 10, 64)
			r.sockErrs += n
		}
	}
	return r, nil
}
