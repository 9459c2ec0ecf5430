package redisconn

import (
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      Config
		wantPtr  string // "" = no problem
		wantMode string
	}{
		{name: "single", cfg: Config{Address: "127.0.0.1:6379"}, wantMode: ModeSingle},
		{name: "sentinel-implied", cfg: Config{Addresses: []string{"a:26379", "b:26379"}, MasterName: "m"}, wantMode: ModeSentinel},
		{name: "cluster-implied", cfg: Config{Addresses: []string{"a:1", "b:2", "c:3"}}, wantMode: ModeCluster},
		{name: "cluster-one-seed", cfg: Config{Mode: ModeCluster, Address: "a:1"}, wantMode: ModeCluster},
		{name: "tls-client-cert", cfg: Config{Address: "a:1", TLS: true, CAFiles: []string{"ca.pem"}, CertFile: "c.pem", KeyFile: "k.pem"}, wantMode: ModeSingle},
		{name: "no-address", cfg: Config{}, wantPtr: "/r/address"},
		{name: "unknown-mode", cfg: Config{Mode: "ring", Address: "a:1"}, wantPtr: "/r/mode"},
		{name: "sentinel-without-name", cfg: Config{Mode: ModeSentinel, Addresses: []string{"a:1"}}, wantPtr: "/r/master_name"},
		{name: "sentinel-without-addresses", cfg: Config{MasterName: "m"}, wantPtr: "/r/addresses"},
		{name: "master-name-in-cluster", cfg: Config{Mode: ModeCluster, Address: "a:1", MasterName: "m"}, wantPtr: "/r/master_name"},
		{name: "sentinel-password-without-sentinel", cfg: Config{Address: "a:1", SentinelPassword: "env:X"}, wantPtr: "/r/sentinel_password"},
		{name: "cluster-db", cfg: Config{Addresses: []string{"a:1", "b:2"}, DB: 1}, wantPtr: "/r/db"},
		{name: "no-port", cfg: Config{Address: "redis.internal"}, wantPtr: "/r/address"},
		{name: "bad-seed", cfg: Config{Addresses: []string{"a:1", "b:http"}}, wantPtr: "/r/addresses/1"},
		{name: "ca-without-tls", cfg: Config{Address: "a:1", CAFiles: []string{"ca.pem"}}, wantPtr: "/r/tls"},
		{name: "cert-without-key", cfg: Config{Address: "a:1", TLS: true, CertFile: "c.pem"}, wantPtr: "/r/cert_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			tc.cfg.Check("/r", func(ptr, f string, a ...any) { got = append(got, ptr) })
			if tc.wantPtr == "" {
				if len(got) > 0 {
					t.Fatalf("problems at %v", got)
				}
				if m := tc.cfg.EffectiveMode(); m != tc.wantMode {
					t.Fatalf("mode %s, want %s", m, tc.wantMode)
				}
				return
			}
			if !strings.Contains(strings.Join(got, " "), tc.wantPtr) {
				t.Fatalf("problems at %v, want one at %s", got, tc.wantPtr)
			}
		})
	}
}

// TestKeyHidesSecrets: the store key names secret references, never values.
func TestKeyHidesSecrets(t *testing.T) {
	t.Setenv("REDIS_PW", "hunter2-secret")
	c := Config{Address: "a:1", Password: "env:REDIS_PW"}
	if strings.Contains(c.Key(), "hunter2") {
		t.Fatal("key carries the password")
	}
	o, err := c.Options("", 0)
	if err != nil || o.Password != "hunter2-secret" {
		t.Fatalf("password not resolved: %v", err)
	}
	if _, err := (&Config{Address: "a:1", Password: "env:GATEHOUSE_UNSET_X"}).Options("", 0); err == nil || !strings.Contains(err.Error(), "password") {
		t.Fatalf("unset password: %v", err)
	}
}
