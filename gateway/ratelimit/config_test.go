package ratelimit

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/redisconn"
)

func TestRedisConfigCheck(t *testing.T) {
	conn := redisconn.Config{Address: "127.0.0.1:6379"}
	for _, tc := range []struct {
		name    string
		r       RedisConfig
		wantPtr string
	}{
		{name: "defaults", r: RedisConfig{Config: conn}},
		{name: "all-set", r: RedisConfig{Config: conn, OnStoreError: OnErrorDeny, Replicas: 3, SyncInterval: config.Duration(10 * time.Millisecond)}},
		{name: "unknown-on-store-error", r: RedisConfig{Config: conn, OnStoreError: "fail"}, wantPtr: "/rate_limits/redis/on_store_error"},
		{name: "negative-replicas", r: RedisConfig{Config: conn, Replicas: -1}, wantPtr: "/rate_limits/redis/replicas"},
		{name: "sync-interval-too-small", r: RedisConfig{Config: conn, SyncInterval: config.Duration(time.Microsecond)}, wantPtr: "/rate_limits/redis/sync_interval"},
		{name: "connection-checked", r: RedisConfig{Config: redisconn.Config{Mode: "ring", Address: "a:1"}}, wantPtr: "/rate_limits/redis/mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rl := &Config{Redis: &tc.r}
			var got []string
			rl.Check(func(ptr, f string, a ...any) { got = append(got, ptr) })
			if tc.wantPtr == "" && len(got) > 0 || tc.wantPtr != "" && !strings.Contains(strings.Join(got, " "), tc.wantPtr) {
				t.Fatalf("problems at %v, want %q", got, tc.wantPtr)
			}
		})
	}
}
