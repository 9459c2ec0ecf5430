package fleet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/authn/jose"
)

const apiDoc = `
openapi: 3.0.3
info: {title: fleet, version: "1"}
x-gatehouse-base-path: /fleet
security: [{basic: []}]
paths:
  /ping:
    get: {operationId: ping, responses: {"200": {description: ok}}}
components:
  securitySchemes:
    basic: {type: http, scheme: basic}
`

// replicaConfig is one replica's config: its own ports and instance id,
// everything else shared. drain_delay is short: the balancer checks every
// 100 ms.
func replicaConfig(dir, name string, httpPort, adminPort int, redis, bundles, logs, up string) string {
	return `
listen:
  http_address: 127.0.0.1:` + itoa(httpPort) + `
  allow_credentials_over_http: true
  drain_delay: 1s
  shutdown_timeout: 10s
admin: {address: 127.0.0.1:` + itoa(adminPort) + `}
instance_id: ` + name + `
apis:
  - openapi: ` + filepath.Join(dir, "api.yaml") + `
    upstream: ` + up + `
schemes:
  basic: {type: basic, users_file: ` + filepath.Join(dir, "users.htpasswd") + `}
internal_key_manager:
  issuer: https://gatehouse.test
  store: {type: redis, address: "` + redis + `"}
rate_limits:
  # one global bucket of 6 unauthenticated requests per client IP
  # (refill negligible), shared through Redis; while Redis is down each
  # replica counts its third
  per_ip: {requests_per_second: 0.001, burst: 6}
  redis: {address: "` + redis + `", timeout: 5s, replicas: 3, on_store_error: local}
upstream_identity:
  key_file: ` + filepath.Join(dir, "keys", "active.pem") + `
  key_dir: ` + filepath.Join(dir, "keys") + `
  lifetime: 1m
policy:
  remote:
    services:
      hub: {url: "` + bundles + `"}
      logs: {url: "` + logs + `"}
    bundles:
      fleet: {service: hub, resource: bundles/fleet.tar.gz, polling: {min_delay_seconds: 1, max_delay_seconds: 2}}
  decision_logs:
    service: logs
    reporting: {min_delay_seconds: 1, max_delay_seconds: 1}
watch: {debounce: 100ms}
log: {level: info}
`
}

// pemKey is a new P-256 key as PEM and its kid.
func pemKey(t *testing.T) ([]byte, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := jose.Thumbprint(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), kid
}

// status is the part of /readyz the test reads.
type status struct {
	Status     string `json:"status"`
	Generation uint64 `json:"generation"`
	Revision   string `json:"bundle_revision"`
	LastReload struct {
		OK bool `json:"ok"`
	} `json:"last_reload"`
}

func (r *replica) status() status {
	r.t.Helper()
	var st status
	resp, err := probeClient.Get(r.admin + "/readyz")
	if err != nil {
		return st
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&st)
	return st
}

func (r *replica) jwks() string {
	resp, err := probeClient.Get(r.admin + "/.well-known/jwks.json")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestFleet runs three replicas as a platform team would and checks what
// a fleet needs: one assertion key set across a rotation, readiness that
// follows Redis, decision logs per instance, and no failed request across
// a SIGTERM drain and a rolling restart.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	redis := startRedis(t)
	dir := t.TempDir()
	bin := buildGatehouse(t, dir)
	bundles := bundleServer(t, "fleet-1")
	logs := newCollector(t)
	up := newUpstream(t)

	if err := os.Mkdir(filepath.Join(dir, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	k1, kid1 := pemKey(t)
	k2, kid2 := pemKey(t)
	keys := filepath.Join(dir, "keys")
	writeFile(t, keys, "active.pem", k1)
	writeFile(t, dir, "api.yaml", []byte(apiDoc))
	const user, password = "fleet", "fleet-pw-2f9c"
	writeFile(t, dir, "users.htpasswd", authntest.Must(authntest.Htpasswd(map[string]string{user: password}, 0)))

	var fleet []*replica
	for i := range 3 {
		name := "replica-" + itoa(i)
		hp, ap := freePort(t), freePort(t)
		cfg := filepath.Join(dir, name+".yaml")
		writeFile(t, dir, name+".yaml", []byte(replicaConfig(dir, name, hp, ap, redis.addr(), bundles.URL, logs.URL, up.URL)))
		r := &replica{t: t, name: name, bin: bin, config: cfg, logs: &lockedBuffer{},
			base: "http://127.0.0.1:" + itoa(hp), admin: "http://127.0.0.1:" + itoa(ap)}
		t.Cleanup(r.kill)
		fleet = append(fleet, r)
	}
	defer func() {
		if t.Failed() {
			for _, r := range fleet {
				t.Logf("%s log:\n%s", r.name, r.logs.String())
			}
		}
	}()
	for _, r := range fleet {
		r.start()
		if st := r.status(); !strings.Contains(st.Revision, "fleet-1") {
			t.Fatalf("%s serves bundle revision %q, want the bundle server's fleet-1", r.name, st.Revision)
		}
	}

	// The upstream holds one copy of the key set, from replica-0.
	up.refresh(t, fleet[0].admin+"/.well-known/jwks.json")
	lb := newBalancer(fleet)
	defer lb.close()
	lb.loop(3, "/fleet/ping", user, password)
	waitFor(t, "traffic through every replica", 30*time.Second, func() bool { return up.verified(kid1) >= 30 })

	check := func(phase string) {
		t.Helper()
		ok, failed, errs := lb.counts()
		t.Logf("%s: %d requests ok, %d failed; upstream rejected %d assertions", phase, ok, failed, up.rejected)
		if failed > 0 {
			t.Fatalf("%s: %d failed requests:\n%s", phase, failed, errs)
		}
	}
	generations := func() []uint64 {
		var g []uint64
		for _, r := range fleet {
			g = append(g, r.status().Generation)
		}
		return g
	}
	reloaded := func(what string, before []uint64) {
		t.Helper()
		waitFor(t, what+" on every replica", 30*time.Second, func() bool {
			for i, r := range fleet {
				if st := r.status(); st.Generation <= before[i] || !st.LastReload.OK {
					return false
				}
			}
			return true
		})
	}

	// Rotation with overlap, as Secret updates on every replica.
	t.Run("rotation", func(t *testing.T) {
		before := generations()
		writeFile(t, keys, "next.pem", k2) // 1. publish next
		reloaded("publish next", before)
		for _, r := range fleet {
			if j := r.jwks(); !strings.Contains(j, kid1) || !strings.Contains(j, kid2) {
				t.Fatalf("%s publishes %s, want both keys", r.name, j)
			}
		}
		up.refresh(t, fleet[0].admin+"/.well-known/jwks.json") // the upstream's cache expires
		before = generations()
		writeFile(t, keys, "old.pem", k1) // 2. switch
		writeFile(t, keys, "active.pem", k2)
		removeFile(t, keys, "next.pem")
		reloaded("switch", before)
		seen := up.verified(kid2)
		waitFor(t, "assertions signed with the new key", 30*time.Second, func() bool { return up.verified(kid2) >= seen+30 })
		before = generations()
		removeFile(t, keys, "old.pem") // 3. retire
		reloaded("retire", before)
		time.Sleep(500 * time.Millisecond)
		up.refresh(t, fleet[2].admin+"/.well-known/jwks.json")
		time.Sleep(500 * time.Millisecond)
		check("rotation")
		if up.rejected > 0 {
			t.Fatalf("the upstream rejected %d assertions", up.rejected)
		}
	})

	// A SIGTERM drain, then the rest of a rolling restart, one replica at a
	// time, as a Deployment with maxUnavailable 0 does.
	t.Run("drain_and_rolling_restart", func(t *testing.T) {
		for i, r := range fleet {
			stopped := make(chan struct{})
			start := time.Now()
			go func() { defer close(stopped); r.stop() }()
			if i == 0 {
				var to503 time.Duration
				for time.Since(start) < 5*time.Second {
					if r.readyz() == http.StatusServiceUnavailable {
						to503 = time.Since(start)
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				t.Logf("SIGTERM → /readyz 503 in %s", to503.Round(time.Millisecond))
			}
			<-stopped
			t.Logf("%s: SIGTERM → exit in %s", r.name, time.Since(start).Round(time.Millisecond))
			if i == 0 {
				check("SIGTERM drain")
			}
			r.start()
			waitFor(t, "the balancer sees "+r.name, 10*time.Second, r.ready.Load)
		}
		time.Sleep(500 * time.Millisecond)
		check("rolling restart")
	})

	t.Run("decision_logs_per_instance", func(t *testing.T) {
		waitFor(t, "records from every replica", 30*time.Second, func() bool {
			n := 0
			for id := range logs.byInstance() {
				if strings.HasPrefix(id, "replica-") {
					n++
				}
			}
			return n >= 3
		})
		ids := logs.byInstance()
		if len(ids) != 3 {
			t.Fatalf("records by labels.id and version: %v, want the three instances", ids)
		}
		for id := range ids {
			if name, version, _ := strings.Cut(id, " "); !strings.HasPrefix(name, "replica-") || version == "" {
				t.Fatalf("labels id %q version %q", name, version)
			}
		}
	})
	lb.close()

	t.Run("readiness_follows_redis", func(t *testing.T) {
		all := func(code int) func() bool {
			return func() bool {
				for _, r := range fleet {
					if r.readyz() != code {
						return false
					}
				}
				return true
			}
		}
		redis.stop()
		t.Logf("Redis down → /readyz 503 on all three in %s", waitFor(t, "503 with Redis down", 20*time.Second, all(http.StatusServiceUnavailable)).Round(time.Millisecond))
		redis.start()
		t.Logf("Redis back → /readyz 200 on all three in %s", waitFor(t, "200 with Redis back", 30*time.Second, all(http.StatusOK)).Round(time.Millisecond))
	})

	// The per-IP limit (burst 6, shared through Redis, replicas: 3) holds
	// globally across a Redis restart that loses the counters, counted in
	// requests without credentials (401 until the bucket is spent, then
	// 429) sent round-robin to the three replicas: 6 before the outage, 6
	// during it (each replica's local third: 2), one fresh bucket after it.
	// Only unauthenticated traffic spends it; the balancer has stopped.
	t.Run("rate_limit_across_redis_restart", func(t *testing.T) {
		admitted := func(n int) int {
			ok := 0
			for i := range n {
				resp, err := http.Get(fleet[i%len(fleet)].base + "/fleet/ping")
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusUnauthorized:
					ok++
				case http.StatusTooManyRequests:
				default:
					t.Fatalf("status %d", resp.StatusCode)
				}
			}
			return ok
		}
		redisUp := func(want string) func() bool {
			return func() bool {
				for _, r := range fleet {
					resp, err := http.Get(r.admin + "/metrics")
					if err != nil {
						return false
					}
					b, _ := io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					if !strings.Contains(string(b), "\ngatehouse_ratelimit_redis_up "+want+"\n") {
						return false
					}
				}
				return true
			}
		}
		const burst = 6
		if n := admitted(15); n != burst {
			t.Fatalf("Redis up: the fleet admitted %d, want the bucket's %d", n, burst)
		}
		redis.stop()
		during := 0
		waitFor(t, "the rate limiters noticing Redis down", 20*time.Second, func() bool {
			during += admitted(3) // the first check on each replica notices
			return redisUp("0")()
		})
		during += admitted(15)
		if during != burst {
			t.Fatalf("Redis down: the fleet admitted %d, want %d (2 per replica)", during, burst)
		}
		redis.start()
		t.Logf("Redis back → every rate limiter reaches it in %s", waitFor(t, "rate limiters reaching Redis", 30*time.Second, redisUp("1")).Round(time.Millisecond))
		if n := admitted(15); n != burst {
			t.Fatalf("Redis back (empty): the fleet admitted %d, want one fresh bucket of %d", n, burst)
		}
	})

	for _, r := range fleet {
		r.stop()
	}
}
