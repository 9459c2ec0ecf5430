// Package redistest runs private redis-server processes on loopback ports
// for tests: a single node that can be stopped and restarted on its port, a
// Sentinel watching it, a three-master Cluster, and TLS-only nodes. Without
// a redis-server binary a test is skipped — loudly — unless
// GATEHOUSE_REQUIRE_REDIS is set (CI), where it fails.
package redistest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireEnv, when set (as .ci/run does), makes a missing redis-server a
// test failure instead of a skip.
const RequireEnv = "GATEHOUSE_REQUIRE_REDIS"

// Server is one redis-server (or sentinel) process on a fixed loopback port.
type Server struct {
	// Addr is 127.0.0.1:port.
	Addr string
	// TLS, when set, is how Do and readiness checks reach a TLS-only node.
	TLS *tls.Config

	t    testing.TB
	bin  string
	args []string // without the port options
	conf string   // sentinel: its config file
	port int
	tlsP bool // the port is --tls-port

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	out    *strings.Builder
}

func binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "!!! redis-server is not installed: the Redis tests did NOT run. Install it (apt-get install -y redis-server; .ci/run does) !!!"
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%s", msg)
		}
		t.Skipf("%s", msg)
	}
	return bin
}

// Options shape a node.
type Options struct {
	// Args are extra redis-server options ("--cluster-enabled", "yes").
	Args []string
	// TLS serves only TLS on the port with these server files; Client is
	// how the readiness check connects.
	CertFile, KeyFile, CAFile string
	Client                    *tls.Config
}

// Start starts a node on a free loopback port, stopped when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{t: t, bin: binary(t), TLS: o.Client}
	s.args = append([]string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--loglevel", "warning"}, o.Args...)
	if o.CertFile != "" {
		s.tlsP = true
		s.args = append(s.args, "--tls-cert-file", o.CertFile, "--tls-key-file", o.KeyFile,
			"--tls-ca-cert-file", o.CAFile, "--tls-auth-clients", "optional")
	}
	s.startOnFreePort()
	return s
}

// StartSentinel starts a sentinel watching master under name (quorum 1).
func StartSentinel(t testing.TB, master *Server, name string) *Server {
	t.Helper()
	s := &Server{t: t, bin: binary(t)}
	dir := t.TempDir()
	s.conf = filepath.Join(dir, "sentinel.conf")
	s.args = []string{s.conf, "--sentinel"}
	s.startOnFreePortWith(func(port int) error {
		conf := fmt.Sprintf("bind 127.0.0.1\nport %d\ndir %s\nsentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %s 1000\n",
			port, dir, name, master.port, name)
		return os.WriteFile(s.conf, []byte(conf), 0o600)
	})
	return s
}

// StartCluster starts n masters with cluster-enabled, joins them with
// redis-cli --cluster create and waits until every node reports
// cluster_state:ok.
func StartCluster(t testing.TB, n int) []*Server {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		binary(t) // the same skip or failure as a missing server
		t.Fatalf("redistest: redis-cli: %v", err)
	}
	var nodes []*Server
	args := []string{"--cluster", "create"}
	for range n {
		s := Start(t, Options{Args: []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"}})
		nodes = append(nodes, s)
		args = append(args, s.Addr)
	}
	args = append(args, "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, s := range nodes {
		for {
			info, err := s.Do("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: cluster not ok on %s: %v %s", s.Addr, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nodes
}

func (s *Server) startOnFreePort() { s.startOnFreePortWith(nil) }

func (s *Server) startOnFreePortWith(prepare func(port int) error) {
	s.t.Helper()
	var lastErr error
	for range 3 { // a free port may be taken between the probe and the start
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.t.Fatal(err)
		}
		s.port = ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		s.Addr = "127.0.0.1:" + strconv.Itoa(s.port)
		if prepare != nil {
			if err := prepare(s.port); err != nil {
				s.t.Fatal(err)
			}
		}
		if lastErr = s.start(); lastErr == nil {
			s.t.Cleanup(s.Stop)
			return
		}
	}
	s.t.Fatalf("redistest: redis-server: %v", lastErr)
}

func (s *Server) start() error {
	args := append([]string(nil), s.args...)
	switch {
	case s.conf != "": // the port is in the sentinel's file
	case s.tlsP:
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(s.port))
	default:
		args = append(args, "--port", strconv.Itoa(s.port))
	}
	cmd := exec.Command(s.bin, args...)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited, s.out = cmd, exited, out
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := s.Do("PING"); err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited: %s", out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("no answer on %s: %s", s.Addr, out.String())
		}
	}
}

// Stop kills the process (SIGKILL: an outage, not a shutdown) and waits for
// it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Restart starts the stopped server again on its port (empty: no
// persistence) and returns when it answers PING.
func (s *Server) Restart() {
	s.t.Helper()
	var err error
	for range 50 { // the port may linger for a moment after the kill
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("redistest: restart %s: %v", s.Addr, err)
}

// Do sends one command on a fresh connection and returns the reply as text
// (an error reply as an error).
func (s *Server) Do(args ...string) (string, error) {
	d := net.Dialer{Timeout: time.Second}
	var c net.Conn
	var err error
	if s.TLS != nil {
		c, err = tls.DialWithDialer(&d, "tcp", s.Addr, s.TLS)
	} else {
		c, err = d.Dial("tcp", s.Addr)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case line == "":
		return "", errors.New("empty reply")
	case line[0] == '-':
		return "", errors.New(line[1:])
	case line[0] == '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return line[1:], nil
	}
}

// Address is the server's host:port.
func (s *Server) Address() string { return s.Addr }
