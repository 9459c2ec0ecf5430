// Command proxybench is the front-door load figure of `make bench`: wrk on
// loopback against a real NGINX that proxies to an upstream alone, and the
// same NGINX asking Gatehouse's forward-auth endpoint first (auth_request)
// with a JWT the gateway has seen, in alternating rounds. It reports the
// throughput and p50/p99 latency of each, their ratio, and the gateway's
// CPU time per authorized request (from /proc, so it holds on a machine
// that is busy with other work).
//
//	go run ./cmd/proxybench                # 2 rounds × 10 s per target
//	go run ./cmd/proxybench -quick         # one short round, a smoke test
//
// NGINX, the upstream (this program re-executed with -role upstream) and
// the gateway (`gatehouse run`, built from this tree, JSON logs with audit
// lines to a file as it ships) are separate processes on loopback ports.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

type options struct {
	wrk, nginx, gatehouse string
	duration              time.Duration
	rounds                int
	connections, threads  int
	quick                 bool
}

func main() {
	var o options
	role := flag.String("role", "", "internal: run as the upstream")
	addr := flag.String("addr", "", "internal: listen address of a role")
	flag.StringVar(&o.wrk, "wrk", "wrk", "wrk binary")
	flag.StringVar(&o.nginx, "nginx", "nginx", "nginx binary")
	flag.StringVar(&o.gatehouse, "gatehouse", "", "gatehouse binary (default: build ./cmd/gatehouse from this tree)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of one measurement")
	flag.IntVar(&o.rounds, "rounds", 2, "rounds; each measures both targets")
	flag.IntVar(&o.connections, "connections", 32, "wrk connections")
	flag.IntVar(&o.threads, "threads", 2, "wrk threads")
	flag.BoolVar(&o.quick, "quick", false, "smoke run: 1 round of 3 s per target")
	flag.Parse()
	if *role == "upstream" {
		fatal(serveUpstream(*addr))
	}
	if o.quick {
		o.rounds, o.duration = 1, 3*time.Second
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{o: o}
	err := b.run(ctx)
	b.cleanup()
	fatal(err)
}

func fatal(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "proxybench: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveUpstream answers every request with a small JSON body.
func serveUpstream(addr string) error {
	body := []byte(`{"id":42,"name":"bench item","status":"ok"}` + "\n")
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})}
	return srv.ListenAndServe()
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

func (b *bench) start(name string, env []string, bin string, args ...string) (*proc, error) {
	logf, err := os.Create(filepath.Join(b.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = logf, logf, b.dir
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = logf.Close(); close(p.done) }()
	b.procs = append(b.procs, p)
	return p, nil
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitListen waits until addr accepts connections or p exits.
func waitListen(p *proc, addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			return c.Close()
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (see its log)", p.name)
		default:
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New(p.name + " did not start listening on " + addr)
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
