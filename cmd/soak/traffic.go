package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// kind is one shape of request; valid ones must get 2xx, hostile ones never.
type kind struct {
	name   string
	valid  bool
	weight int
	build  func(i int64) *http.Request
	sent   atomic.Int64
	ok     atomic.Int64 // 2xx
	failed atomic.Int64 // valid: not 2xx or no answer; hostile: no answer
	status sync.Map     // status → *atomic.Int64
}

type traffic struct {
	client *http.Client
	kinds  []*kind
	wheel  []*kind // kinds by weight, for round-robin picking
	next   atomic.Int64
	up     *upstream
}

func newTraffic(base string, pool *x509.CertPool, is *authntest.Issuer, up *upstream) (*traffic, error) {
	now := time.Now()
	claims := func(edit func(map[string]any)) map[string]any {
		c := authntest.Claims(is.Issuer(), audience, now, 2*time.Hour)
		c["scope"] = "read"
		c["client_id"] = "soak"
		if edit != nil {
			edit(c)
		}
		return c
	}
	mint := func(s *authntest.Signer, c map[string]any) string {
		tok, err := s.Mint(c)
		if err != nil {
			panic(err)
		}
		return tok
	}
	valid := make([]string, 500)
	for i := range valid {
		valid[i] = mint(is.Signer(), claims(func(c map[string]any) { c["jti"] = fmt.Sprintf("soak-%d", i) }))
	}
	stranger, err := authntest.NewSigner("RS256", authntest.WithKID("not-published"))
	if err != nil {
		return nil, err
	}
	expired := mint(is.Signer(), claims(func(c map[string]any) {
		c["exp"] = now.Add(-time.Hour).Unix()
		c["iat"] = now.Add(-2 * time.Hour).Unix()
	}))
	wrongAud := mint(is.Signer(), claims(func(c map[string]any) { c["aud"] = "elsewhere" }))
	revoked := mint(is.Signer(), claims(func(c map[string]any) { c["jti"] = "revoked-jti" }))
	unknownKid := mint(stranger, claims(nil))
	tampered := authntest.TamperSignature(valid[0])
	none := authntest.Unsigned(claims(nil))

	req := func(path string, hdr ...string) func(int64) *http.Request {
		return func(int64) *http.Request {
			r, err := http.NewRequest("GET", base+path, nil)
			if err != nil {
				panic(err)
			}
			for i := 0; i+1 < len(hdr); i += 2 {
				r.Header.Set(hdr[i], hdr[i+1])
			}
			return r
		}
	}
	t := &traffic{up: up}
	t.kinds = []*kind{
		{name: "valid token", valid: true, weight: 60, build: func(i int64) *http.Request {
			r := req(fmt.Sprintf("/soak/items/%d", i%1000))(i)
			r.Header.Set("Authorization", "Bearer "+valid[i%int64(len(valid))])
			return r
		}},
		{name: "valid public", valid: true, weight: 10, build: req("/soak/public")},
		{name: "expired token", weight: 3, build: req("/soak/items/1", "Authorization", "Bearer "+expired)},
		{name: "tampered signature", weight: 3, build: req("/soak/items/1", "Authorization", "Bearer "+tampered)},
		{name: "alg none", weight: 2, build: req("/soak/items/1", "Authorization", "Bearer "+none)},
		{name: "unknown kid (refetch)", weight: 2, build: req("/soak/items/1", "Authorization", "Bearer "+unknownKid)},
		{name: "wrong audience", weight: 2, build: req("/soak/items/1", "Authorization", "Bearer "+wrongAud)},
		{name: "revoked jti", weight: 2, build: req("/soak/items/1", "Authorization", "Bearer "+revoked)},
		{name: "garbage token", weight: 2, build: req("/soak/items/1", "Authorization", "Bearer a.b.c")},
		{name: "no credentials", weight: 3, build: req("/soak/items/1")},
		{name: "insufficient scope", weight: 3, build: req("/soak/admin", "Authorization", "Bearer "+valid[1])},
		{name: "dot segments onto admin", weight: 2, build: req("/soak/public/../admin")},
		{name: "encoded slash", weight: 2, build: req("/soak%2Fadmin")},
		{name: "spoofed assertion", weight: 2, build: req("/soak/items/1", "X-JWT-Assertion", "forged", "X-HTTP-Method-Override", "DELETE")},
	}
	for _, k := range t.kinds {
		for range k.weight {
			t.wheel = append(t.wheel, k)
		}
	}
	t.client = &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: "localhost"},
			MaxIdleConnsPerHost: 256,
			MaxConnsPerHost:     256,
			IdleConnTimeout:     90 * time.Second,
		},
		Timeout: 10 * time.Second,
	}
	return t, nil
}

// one sends the next request of the mix and books its outcome.
func (t *traffic) one() {
	i := t.next.Add(1)
	k := t.wheel[i%int64(len(t.wheel))]
	k.sent.Add(1)
	resp, err := t.client.Do(k.build(i))
	if err != nil {
		k.failed.Add(1)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c, _ := k.status.LoadOrStore(resp.StatusCode, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		k.ok.Add(1)
	} else if k.valid {
		k.failed.Add(1)
	}
}

// closedLoop runs workers back to back for d and returns requests/s.
func (t *traffic) closedLoop(ctx context.Context, workers int, d time.Duration) float64 {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t.one()
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// openLoop sends rate requests per second for d, whatever the answers take
// (up to workers at once; the rest are counted as not sent), calling tick
// about once a second.
func (t *traffic) openLoop(ctx context.Context, rate float64, workers int, d time.Duration, tick func(time.Duration)) {
	work := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				t.one()
			}
		}()
	}
	start := time.Now()
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	var due float64
	lastTick := start
	for {
		select {
		case <-ctx.Done():
		case now := <-ticker.C:
			if now.Sub(start) < d {
				due += rate * 0.01
				for ; due >= 1; due-- {
					select {
					case work <- struct{}{}:
					default:
						dropped.Add(1)
					}
				}
				if now.Sub(lastTick) >= time.Second {
					lastTick = now
					tick(now.Sub(start))
				}
				continue
			}
		}
		break
	}
	close(work)
	wg.Wait()
}

var dropped atomic.Int64

func (t *traffic) reset() {
	for _, k := range t.kinds {
		k.sent.Store(0)
		k.ok.Store(0)
		k.failed.Store(0)
		k.status.Clear()
	}
	dropped.Store(0)
	t.up.hits.Store(0)
	t.up.unasserted.Store(0)
}

func (t *traffic) closeIdle() { t.client.CloseIdleConnections() }

// kindStats is a kind's outcome, for the report.
type kindStats struct {
	name             string
	valid            bool
	sent, ok, failed int64
	statuses         map[int]int64
}

type trafficStats struct {
	kinds      []kindStats
	dropped    int64
	upstream   int64
	unasserted int64
}

func (t *traffic) snapshot() trafficStats {
	var s trafficStats
	for _, k := range t.kinds {
		ks := kindStats{name: k.name, valid: k.valid, sent: k.sent.Load(), ok: k.ok.Load(), failed: k.failed.Load(), statuses: map[int]int64{}}
		k.status.Range(func(key, v any) bool {
			ks.statuses[key.(int)] = v.(*atomic.Int64).Load()
			return true
		})
		s.kinds = append(s.kinds, ks)
	}
	s.dropped, s.upstream, s.unasserted = dropped.Load(), t.up.hits.Load(), t.up.unasserted.Load()
	return s
}
