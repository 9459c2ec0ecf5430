package redisconn_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/internal/redisconn"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// TestTopologies: one configuration shape reaches a single node, a primary
// through Sentinel, a three-master Cluster (keys spread over every slot
// range) and a TLS-only node verified with ca_files, with and without a
// client certificate.
func TestTopologies(t *testing.T) {
	dir := t.TempDir()
	ca := authntest.Must(authntest.NewCA())
	srvCert := authntest.Must(ca.Server("127.0.0.1"))
	cliCert := authntest.Must(ca.Client("gatehouse"))
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	srvCertFile, srvKeyFile := writePair(t, srvCert, dir, "server")
	cliCertFile, cliKeyFile := writePair(t, cliCert, dir, "client")

	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) redisconn.Config
	}{
		{"single", func(t *testing.T) redisconn.Config {
			return redisconn.Config{Address: redistest.Start(t, redistest.Options{}).Address()}
		}},
		{"sentinel", func(t *testing.T) redisconn.Config {
			master := redistest.Start(t, redistest.Options{})
			s := redistest.StartSentinel(t, master, "gh")
			return redisconn.Config{Addresses: []string{s.Address()}, MasterName: "gh"}
		}},
		{"cluster", func(t *testing.T) redisconn.Config {
			nodes := redistest.StartCluster(t, 3)
			return redisconn.Config{Addresses: []string{nodes[0].Address(), nodes[1].Address()}}
		}},
		{"tls-ca-files", func(t *testing.T) redisconn.Config {
			s := redistest.Start(t, redistest.Options{CertFile: srvCertFile, KeyFile: srvKeyFile, CAFile: caFile,
				Client: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}})
			return redisconn.Config{Address: s.Address(), TLS: true, CAFiles: []string{"ca.pem"}}
		}},
		{"tls-client-certificate", func(t *testing.T) redisconn.Config {
			s := redistest.Start(t, redistest.Options{CertFile: srvCertFile, KeyFile: srvKeyFile, CAFile: caFile,
				Args:   []string{"--tls-auth-clients", "yes"},
				Client: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{cliCert.TLS()}, MinVersion: tls.VersionTLS12}})
			return redisconn.Config{Address: s.Address(), TLS: true, CAFiles: []string{"ca.pem"}, CertFile: cliCertFile, KeyFile: cliKeyFile}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg(t)
			var problems []string
			cfg.Check("", func(ptr, f string, a ...any) { problems = append(problems, ptr+": "+fmt.Sprintf(f, a...)) })
			if len(problems) > 0 {
				t.Fatal(problems)
			}
			c, err := redisconn.Open(&cfg, dir, redisconn.Settings{Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			for i := range 20 {
				k := fmt.Sprintf("k%d", i)
				if err := c.Client().Set(ctx, k, i, time.Minute).Err(); err != nil {
					t.Fatalf("set %s: %v", k, err)
				}
				if v, err := c.Client().Get(ctx, k).Int(); err != nil || v != i {
					t.Fatalf("get %s: %d %v", k, v, err)
				}
			}
			if !c.Up() {
				t.Fatal("down after answers")
			}
		})
	}

	t.Run("tls-unknown-ca-refused", func(t *testing.T) {
		s := redistest.Start(t, redistest.Options{CertFile: srvCertFile, KeyFile: srvKeyFile, CAFile: caFile,
			Client: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}})
		other := authntest.Must(authntest.NewCA())
		if err := os.WriteFile(filepath.Join(dir, "other.pem"), other.CertPEM(), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := redisconn.Config{Address: s.Address(), TLS: true, CAFiles: []string{"other.pem"}}
		c, err := redisconn.Open(&cfg, dir, redisconn.Settings{Timeout: 2 * time.Second, MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.Client().Ping(context.Background()).Err()
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("ping through an unknown CA: %v", err)
		}
	})
}

func writePair(t *testing.T, c *authntest.Cert, dir, name string) (string, string) {
	t.Helper()
	cert, key, err := c.WriteFiles(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestRouteLogs: go-redis's own lines (here: failed dials) arrive as JSON
// records of the gateway's logger, none as plain text.
func TestRouteLogs(t *testing.T) {
	var buf syncBuffer
	redisconn.RouteLogs(hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true}))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	_ = ln.Close()
	c := redis.NewClient(&redis.Options{Addr: dead, MaxRetries: -1, DialerRetries: 1})
	defer c.Close()
	for range 3 {
		_ = c.Ping(context.Background()).Err()
	}
	out := buf.String()
	if out == "" {
		t.Fatal("no log line from a failed dial")
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if rec["@module"] != "redis" || rec["@level"] != "warn" {
			t.Fatalf("record %v", rec)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestConnOutage: a command that finds Redis gone marks the Conn down
// (one log line), errors of answers do not, and the probe brings it back
// with a fresh client once Redis answers (one more line).
func TestConnOutage(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	var buf syncBuffer
	c, err := redisconn.Open(&redisconn.Config{Address: srv.Address()}, "", redisconn.Settings{
		Timeout: 2 * time.Second, MaxRetries: -1,
		Log: hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true}),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	cl := c.Client()
	if err := cl.Get(ctx, "missing").Err(); c.Report(cl, err) || !c.Up() {
		t.Fatalf("redis.Nil counted as an outage: %v", err)
	}
	if err := cl.Do(ctx, "NOSUCHCOMMAND").Err(); err == nil || c.Report(cl, err) || !c.Up() {
		t.Fatalf("an error reply counted as an outage: %v", err)
	}
	srv.Stop()
	err = cl.Ping(ctx).Err()
	if !c.Report(cl, err) || c.Up() {
		t.Fatalf("outage not noticed: %v", err)
	}
	srv.Restart()
	for deadline := time.Now().Add(20 * time.Second); !c.Up(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not up 20 s after Redis returned")
		}
	}
	if c.Client() == cl {
		t.Fatal("the failed client was kept")
	}
	if err := c.Client().Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "redis unavailable") || !strings.Contains(out, "redis answers again") {
		t.Fatalf("log: %s", out)
	}
}
