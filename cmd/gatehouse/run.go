package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/config"
)

func runCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "gatehouse.yaml", "config file")
	if code, stop := parseFlags(fs, args, stdout, stderr); stop {
		return code
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse: %v\n", err)
		return 1
	}
	log := gateway.NewLogger(cfg.Log, os.Stderr)
	// GATEHOUSE_CPUPROFILE=<file> writes a CPU profile of the whole run,
	// stopped on shutdown (used by `go run ./cmd/loadbench -cpuprofile`).
	if p := os.Getenv("GATEHOUSE_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "gatehouse: GATEHOUSE_CPUPROFILE: %v\n", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	term := make(chan os.Signal, 2)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(term)

	srv, err := gateway.New(ctx, *cfgPath, gateway.Options{Logger: log, AuditOutput: os.Stderr, ManageRuntime: true, Config: cfg})
	if err != nil {
		log.Error("cannot start", "error", err.Error())
		fmt.Fprintf(stderr, "gatehouse: %v\n", err)
		return 1
	}
	if err := srv.Start(); err != nil {
		log.Error("cannot listen", "error", err.Error())
		return 1
	}
	log.Info("listening", "https", addr(srv.Addr()), "http", addr(srv.PlainAddr()), "admin", addr(srv.AdminAddr()),
		"ext_authz", addr(srv.ExtAuthzAddr()), "forward_auth", addr(srv.ForwardAuthAddr()))
	if *cfg.Watch.Enabled {
		if err := srv.Watch(ctx); err != nil {
			log.Error("cannot watch files; reload with SIGHUP", "error", err.Error())
		}
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			log.Info("reloading on SIGHUP")
			_ = srv.Reload(ctx) // a failure is logged; the old generation serves on
		case sig := <-term:
			writeHeapProfile(stderr)
			drain(srv, sig, term, log)
			stop()
			log.Info("shutting down", "timeout", cfg.Listen.ShutdownTimeout.D().String())
			dctx, cancel := context.WithTimeout(context.Background(), cfg.Listen.ShutdownTimeout.D())
			err := srv.Shutdown(dctx)
			cancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				log.Error("shutdown", "error", err.Error())
				return 1
			}
			log.Info("stopped")
			return 0
		}
	}
}

// drain runs the first part of a graceful stop: on SIGTERM (what
// orchestrators send) /readyz fails for listen.drain_delay while every
// request is still served, so balancers stop sending before the listeners
// close (gateway/drain.go). SIGINT (Ctrl-C), or a second signal, skips the
// wait.
func drain(srv *gateway.Server, sig os.Signal, more <-chan os.Signal, log hclog.Logger) {
	srv.Drain()
	if sig != syscall.SIGTERM {
		return
	}
	d := srv.Generation().Config.Listen.DrainDelay.D() // reloads may change it
	log.Info("draining", "drain_delay", d.String())
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-more:
		log.Info("second signal: skipping the rest of the drain delay")
	}
}

// writeHeapProfile writes the live heap to GATEHOUSE_MEMPROFILE, if set, when
// a stop is requested and before draining (used to find what a soak keeps
// alive: `go tool pprof -inuse_space bin/gatehouse <file>`).
func writeHeapProfile(stderr io.Writer) {
	p := os.Getenv("GATEHOUSE_MEMPROFILE")
	if p == "" {
		return
	}
	runtime.GC() // the profile shows the heap as of the last collection
	f, err := os.Create(p)
	if err == nil {
		err = pprof.WriteHeapProfile(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse: GATEHOUSE_MEMPROFILE: %v\n", err)
	}
}

func addr(a interface{ String() string }) string {
	if a == nil {
		return ""
	}
	return a.String()
}
