package main

// The forged-token flood: at saturation, 80% of the requests carry a forged
// or malformed token and 20% the valid repeated token, sent by a Go client
// (wrk reports one latency distribution per run; this needs one per class).
// The bare proxy gets the same requests in the same round, and each
// target's valid-token latency is also measured unloaded (one connection,
// valid requests only) just before its flood.

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

const (
	floodConns = 64
	// floodAttackShare is the share of attack requests: every worker sends
	// attackPerValid attack requests, then one valid one.
	attackPerValid = 4
	unloadedFor    = 3 * time.Second
)

type floodResult struct {
	target  *target
	round   int
	rps     float64
	attack  classStats
	valid   classStats
	idle    classStats // valid requests on one connection, nothing else
	wrong   int64      // answers not of the class's expected status
	errs    int64
	cpu     time.Duration
	foreign float64
}

type classStats struct {
	n        int
	p50, p99 time.Duration
}

func statsOf(d []time.Duration) classStats {
	if len(d) == 0 {
		return classStats{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(math.Ceil(q*float64(len(d))))-1)] }
	return classStats{n: len(d), p50: at(0.50), p99: at(0.99)}
}

// attackTokens are forged tokens (signed by another key under the bench
// key's kid, so each costs the gateway an RSA verification) and malformed
// ones (undecodable payload), alternating.
func (b *bench) attackTokens() ([]string, error) {
	forger, err := authntest.NewSigner("RS256", authntest.WithKID(b.signer.KID()))
	if err != nil {
		return nil, err
	}
	var toks []string
	for i := range 32 {
		c := authntest.Claims(issuerID, audience, time.Now(), 3*time.Hour)
		c["sub"] = fmt.Sprintf("attacker-%d", i)
		c["scope"] = "read:items"
		t, err := forger.Mint(c)
		if err != nil {
			return nil, err
		}
		h, _, _ := strings.Cut(t, ".")
		toks = append(toks, t, h+".bm90LWpzb24"+fmt.Sprintf("%03d", i)+"."+strings.Repeat("A", 342))
	}
	return toks, nil
}

// floodRound measures the bare proxy and the gateway under the flood.
func (b *bench) floodRound(ctx context.Context, round int) error {
	if len(b.floodTargets) == 0 {
		return nil
	}
	attack, err := b.attackTokens()
	if err != nil {
		return err
	}
	for _, t := range b.floodTargets {
		b.waitQuiet(ctx)
		idle, _, _ := b.floodRun(ctx, t, 1, unloadedFor, 0, attack)
		cpu0 := procCPU(t.proc)
		busy0, total0 := machineCPU()
		ours0 := b.ourCPU()
		start := time.Now()
		r, wrong, errs := b.floodRun(ctx, t, floodConns, b.opts.duration, attackPerValid, attack)
		elapsed := time.Since(start)
		if err := ctx.Err(); err != nil {
			return err
		}
		busy1, total1 := machineCPU()
		fr := &floodResult{target: t, round: round, idle: idle.valid, attack: r.attack, valid: r.valid,
			wrong: wrong, errs: errs, cpu: procCPU(t.proc) - cpu0}
		fr.rps = float64(r.attack.n+r.valid.n) / elapsed.Seconds()
		if dt := total1 - total0; dt > 0 {
			fr.foreign = math.Max(0, (busy1-busy0-(b.ourCPU()-ours0).Seconds())/dt)
		}
		logf("round %d %-16s %9.0f req/s  rejections p99 %-8s valid p99 %-8s (unloaded %s)  wrong %d errors %d  foreign CPU %.0f%%",
			round, t.name, fr.rps, fmtDur(fr.attack.p99), fmtDur(fr.valid.p99), fmtDur(fr.idle.p99), wrong, errs, 100*fr.foreign)
		b.floods = append(b.floods, fr)
	}
	return nil
}

type floodClasses struct{ attack, valid classStats }

// floodRun sends requests on conns connections for d: per connection,
// attackPerValid attack requests then one valid one (only valid ones when
// attackPerValid is 0). It returns the latency of each class, how many
// answers had another status than the class expects (401 for attacks at
// the gateway, 200 otherwise), and transport errors.
func (b *bench) floodRun(ctx context.Context, t *target, conns int, d time.Duration, perValid int, attack []string) (floodClasses, int64, int64) {
	client := b.loadClient(conns)
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	attackStatus := http.StatusUnauthorized
	if t.name == "flood-bare" {
		attackStatus = http.StatusOK
	}
	var wrong, errs atomic.Int64
	var mu sync.Mutex
	var all [2][]time.Duration
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat [2][]time.Duration
			for i := w; ctx.Err() == nil; i++ {
				class, tok, want := 1, b.token, http.StatusOK
				if perValid > 0 && i%(perValid+1) != perValid {
					class, tok, want = 0, attack[i%len(attack)], attackStatus
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[class] = append(lat[class], time.Since(start))
				if resp.StatusCode != want {
					wrong.Add(1)
				}
			}
			mu.Lock()
			all[0] = append(all[0], lat[0]...)
			all[1] = append(all[1], lat[1]...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return floodClasses{attack: statsOf(all[0]), valid: statsOf(all[1])}, wrong.Load(), errs.Load()
}

// floodReport is the flood's section of the report.
func (b *bench) floodReport() string {
	if len(b.floods) == 0 {
		return ""
	}
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	p("\nforged-token flood (Go HTTP/1.1 client, %d keep-alive TLS connections at saturation; per connection %d requests\n", floodConns, attackPerValid)
	p("with a forged (RS256, wrong key, right kid) or malformed token, then one with the valid repeated token: %d%%\n", 100*attackPerValid/(attackPerValid+1))
	p("attack traffic; unloaded = one connection, valid token only, %s just before; median over rounds):\n", unloadedFor)
	p("  %-32s %8s %8s  %-22s %-22s %-14s %s\n", "target", "req/s", "× bare", "rejections p50/p99", "valid p50/p99", "unloaded p99", "valid p99 × unloaded")
	bare := map[int]*floodResult{}
	for _, r := range b.floods {
		if r.target.name == "flood-bare" {
			bare[r.round] = r
		}
	}
	med := func(rs []*floodResult, f func(*floodResult) float64) float64 {
		var xs []float64
		for _, r := range rs {
			xs = append(xs, f(r))
		}
		return median(xs)
	}
	summary := map[string]map[string]float64{}
	for _, name := range []string{"flood-bare", "flood"} {
		var rs []*floodResult
		for _, r := range b.floods {
			if r.target.name == name {
				rs = append(rs, r)
			}
		}
		if len(rs) == 0 {
			continue
		}
		ratio := med(rs, func(r *floodResult) float64 {
			if br := bare[r.round]; br != nil && br.rps > 0 {
				return r.rps / br.rps
			}
			return math.NaN()
		})
		d := func(f func(*floodResult) time.Duration) time.Duration {
			return time.Duration(med(rs, func(r *floodResult) float64 { return float64(f(r)) }))
		}
		vr := med(rs, func(r *floodResult) float64 { return float64(r.valid.p99) / float64(max(r.idle.p99, 1)) })
		summary[name] = map[string]float64{"ratio": ratio, "rej99": float64(d(func(r *floodResult) time.Duration { return r.attack.p99 })), "valid": vr}
		p("  %-32s %8.0f %8.2f  %-22s %-22s %-14s %.1f\n", rs[0].target.label, med(rs, func(r *floodResult) float64 { return r.rps }), ratio,
			fmtDur(d(func(r *floodResult) time.Duration { return r.attack.p50 }))+" / "+fmtDur(d(func(r *floodResult) time.Duration { return r.attack.p99 })),
			fmtDur(d(func(r *floodResult) time.Duration { return r.valid.p50 }))+" / "+fmtDur(d(func(r *floodResult) time.Duration { return r.valid.p99 })),
			fmtDur(d(func(r *floodResult) time.Duration { return r.idle.p99 })), vr)
	}
	if s, ok := summary["flood"]; ok {
		verdict := func(ok bool) string {
			if ok {
				return "met"
			}
			return "MISSED"
		}
		p("  gateway rejections p99 %s (goal ≤ 0.5ms) %s; valid p99 %.1f× unloaded (goal ≤ 2×) %s\n",
			fmtDur(time.Duration(s["rej99"])), verdict(s["rej99"] <= float64(500*time.Microsecond)), s["valid"], verdict(s["valid"] <= 2))
	}
	p("  every flood measurement:\n")
	for _, r := range b.floods {
		p("    round %d %-10s %8.0f req/s  %6d rejections (p99 %s)  %6d valid (p99 %s, unloaded %s)  CPU %.0f µs/req  wrong status %d  errors %d  foreign %.0f%%\n",
			r.round, r.target.name, r.rps, r.attack.n, fmtDur(r.attack.p99), r.valid.n, fmtDur(r.valid.p99), fmtDur(r.idle.p99),
			r.cpu.Seconds()*1e6/float64(max(r.attack.n+r.valid.n, 1)), r.wrong, r.errs, 100*r.foreign)
	}
	return sb.String()
}
