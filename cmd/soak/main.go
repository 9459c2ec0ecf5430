// Command soak is `make soak`: the real gatehouse binary on loopback under
// mixed valid and hostile traffic for a long time (10 minutes by default),
// at half of the rate it was measured to sustain, while its policy bundle is
// rewritten every few seconds (every third rewrite broken) and its issuer's
// JWKS endpoint flaps. It reports goroutines, heap in use and open file
// descriptors (from the admin /metrics) at the start, at minute 2, in the
// middle, at the end and after the load; valid requests that failed; and any
// 2xx given to hostile traffic. Exit 1 when a target is missed:
//
//   - no failed valid request, no 2xx to hostile traffic;
//
//   - heap in use grows < 10% from minute 2 to the end (medians of samples);
//
//   - goroutines back to baseline (+5% or +20) within 30 s after the load.
//
//     go run ./cmd/soak -gatehouse bin/gatehouse [-duration 10m] [-out soak.txt]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

type options struct {
	gatehouse   string
	duration    time.Duration
	calibrate   time.Duration
	fraction    float64
	workers     int
	reloadEvery time.Duration
	flapEvery   time.Duration
	out         string
	keep        bool
}

func main() {
	var o options
	flag.StringVar(&o.gatehouse, "gatehouse", "bin/gatehouse", "gatehouse binary")
	flag.DurationVar(&o.duration, "duration", 10*time.Minute, "length of the soak")
	flag.DurationVar(&o.calibrate, "calibrate", 20*time.Second, "closed-loop measurement of the maximum rate")
	flag.Float64Var(&o.fraction, "fraction", 0.5, "share of the measured maximum rate to soak at")
	flag.IntVar(&o.workers, "workers", 32, "concurrent connections")
	flag.DurationVar(&o.reloadEvery, "reload-every", 10*time.Second, "policy bundle rewrite period (every third one broken)")
	flag.DurationVar(&o.flapEvery, "flap-every", 60*time.Second, "JWKS endpoint flap period (down for a third of it)")
	flag.StringVar(&o.out, "out", "", "also write the report to this file")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := &soak{opts: o}
	err := s.run(ctx)
	s.cleanup()
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		os.Exit(1)
	}
	if !s.passed {
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "soak %s: "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// tb lets authntest helpers run outside a test.
type tb struct{ cleanups []func() }

func (*tb) Helper() {}
func (*tb) Fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "soak: "+format+"\n", a...)
	os.Exit(1)
}
func (t *tb) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }
func (t *tb) run() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

type soak struct {
	opts    options
	tb      tb
	work    string
	gw      *exec.Cmd
	exited  chan struct{}
	base    string // https://127.0.0.1:port
	admin   string
	issuer  *authntest.Issuer
	traffic *traffic
	passed  bool

	reloads, badReloads atomic.Int64
	flaps               atomic.Int64
}

func (s *soak) cleanup() {
	if s.gw != nil && s.gw.Process != nil {
		_ = s.gw.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(35 * time.Second):
			_ = s.gw.Process.Kill()
		}
	}
	s.tb.run()
	if s.work != "" && !s.opts.keep {
		_ = os.RemoveAll(s.work)
	} else if s.work != "" {
		logf("work directory kept: %s", s.work)
	}
}

func (s *soak) run(ctx context.Context) error {
	var err error
	if s.work, err = os.MkdirTemp("", "gatehouse-soak-"); err != nil {
		return err
	}
	if err := s.setup(); err != nil {
		return err
	}
	logf("gateway %s, admin %s, work %s", s.base, s.admin, s.work)

	logf("calibrating: %d connections, closed loop, %s", s.opts.workers, s.opts.calibrate)
	max := s.traffic.closedLoop(ctx, s.opts.workers, s.opts.calibrate)
	target := max * s.opts.fraction
	logf("measured %.0f req/s; soaking at %.0f req/s for %s", max, target, s.opts.duration)
	s.traffic.reset()

	rep := &report{maxRate: max, rate: target, workers: s.opts.workers, duration: s.opts.duration, load: loadAvg()}
	rep.samples = append(rep.samples, s.sample("start", 0))
	bg, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.reloader(bg)
	go s.flapper(bg)
	sampler := s.sampler(bg, rep)

	start := time.Now()
	s.traffic.openLoop(ctx, target, s.opts.workers, s.opts.duration, func(elapsed time.Duration) {
		switch {
		case len(rep.samples) == 1 && elapsed >= min(2*time.Minute, s.opts.duration/5):
			rep.samples = append(rep.samples, s.sample("minute 2", elapsed))
		case len(rep.samples) == 2 && elapsed >= s.opts.duration/2:
			rep.samples = append(rep.samples, s.sample("middle", elapsed))
		}
	})
	rep.samples = append(rep.samples, s.sample("end", time.Since(start)))
	cancel()
	<-sampler
	rep.load = append(rep.load, loadAvg()...)

	// after the load: goroutines back to the baseline within 30 s
	s.traffic.closeIdle()
	deadline := time.Now().Add(30 * time.Second)
	var after sample
	for {
		after = s.sample("after load", time.Since(start))
		if after.goroutines <= rep.samples[0].goroutines*1.05+20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	rep.samples = append(rep.samples, after)
	rep.traffic = s.traffic.snapshot()
	rep.reloads, rep.badReloads, rep.flaps = s.reloads.Load(), s.badReloads.Load(), s.flaps.Load()
	text, passed := rep.render()
	s.passed = passed
	fmt.Print(text)
	if s.opts.out != "" {
		if err := os.WriteFile(s.opts.out, []byte(text), 0o644); err != nil {
			return err
		}
	}
	select {
	case <-s.exited:
		return fmt.Errorf("the gateway exited during the soak; log: %s", filepath.Join(s.work, "gateway.log"))
	default:
	}
	return nil
}
