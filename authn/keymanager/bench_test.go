package keymanager_test

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/authn/keymanager"
	"github.com/gatehouse/gatehouse/internal/redisconn"
)

// BenchmarkValidate: in-process validation of the internal key manager's
// tokens — from its cache, and from each store on every request.
func BenchmarkValidate(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		redis  bool
		cached bool
	}{{"cached", false, true}, {"file-store", false, false}, {"redis-store", true, false}} {
		b.Run(c.name, func(b *testing.B) {
			f := newKM(b, func(cfg *keymanager.Config) {
				if !c.cached {
					cfg.CacheTTL = -1
				}
				if c.redis {
					s, err := keymanager.OpenRedis(ctx, keymanager.RedisConfig{Conn: redisconn.Config{Address: authntest.StartRedis(b)}}, nil)
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { _ = s.Close() })
					cfg.Store = s
				}
			})
			tok := f.token(b, "shop:"+shopSecret, "read")
			if _, err := f.km.Validate(ctx, tok); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.km.Validate(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
