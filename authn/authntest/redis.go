package authntest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// RedisTB is the part of testing.TB StartRedis uses.
type RedisTB interface {
	TB
	Skipf(format string, args ...any)
	TempDir() string
}

// RequireRedisEnv, when set (as .ci/run does), makes a missing
// redis-server a test failure instead of a skip.
const RequireRedisEnv = "GATEHOUSE_REQUIRE_REDIS"

// StartRedis starts a private redis-server on a free loopback port (no
// persistence, its own directory), stopped when the test ends, and returns
// its address. Without a redis-server binary the test is skipped — loudly —
// unless GATEHOUSE_REQUIRE_REDIS is set (CI), where it fails.
func StartRedis(t RedisTB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "!!! redis-server is not installed: the Redis store tests did NOT run. Install it (apt-get install -y redis-server; .ci/run does) !!!"
		if os.Getenv(RequireRedisEnv) != "" {
			t.Fatalf("%s", msg)
		}
		t.Skipf("%s", msg)
	}
	var lastErr error
	for range 3 { // a free port may be taken between the probe and the start
		addr, err := startRedis(t, bin)
		if err == nil {
			return addr
		}
		lastErr = err
	}
	t.Fatalf("authntest: redis-server: %v", lastErr)
	return ""
}

func startRedis(t RedisTB, bin string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir(), "--loglevel", "warning")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pingRedis(addr) == nil {
			t.Cleanup(stop)
			return addr, nil
		}
		select {
		case <-exited:
			return "", fmt.Errorf("exited: %s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("no answer on %s: %s", addr, out.String())
		}
	}
}

func pingRedis(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("answer %q", line)
	}
	return nil
}
