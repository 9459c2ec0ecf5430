package main

// The repeated token on a gateway whose caches are full: before the rounds,
// a second gateway verifies -fill first-seen tokens (100,000 by default),
// then serves the repeated token in the rounds like the first one, so the
// two rows show what full credential and decision caches cost a cache hit.

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// fillKID is the key of the fill tokens: ES256, whose signing costs ~1/20 of
// RS256's, so minting 100,000 tokens takes seconds, not minutes. The
// gateway's verification cost does not matter here: only the caches it
// leaves behind are measured.
const fillKID = "loadbench-fill"

// filledTTL keeps the fill in the caches for the whole run (the default
// 5 minutes would let it expire before the last round); a TTL changes what
// is cached for how long, not what a cache hit costs.
const filledTTL = "1h"

// fill mints n distinct ES256 tokens (subjects fill-0…) and sends each
// once to the gateway at url on 32 connections. It returns how many were
// answered 200.
func (b *bench) fill(ctx context.Context, url string, n int) (int64, error) {
	start := time.Now()
	toks := make([]string, n)
	var next atomic.Int64
	var mintErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				c := authntest.Claims(issuerID, audience, time.Now(), 3*time.Hour)
				c["sub"] = "fill-" + strconv.Itoa(i)
				c["client_id"] = "bench-app"
				c["scope"] = "read:items"
				t, err := b.fillSigner.Mint(c)
				if err != nil {
					mintErr.CompareAndSwap(nil, &err)
					return
				}
				toks[i] = t
			}
		}()
	}
	wg.Wait()
	if e := mintErr.Load(); e != nil {
		return 0, *e
	}
	logf("minted %d ES256 fill tokens in %s", n, time.Since(start).Round(100*time.Millisecond))
	start = time.Now()
	const conns = 32
	client := b.loadClient(conns)
	defer client.CloseIdleConnections()
	var ok, failed atomic.Int64
	next.Store(0)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.Header.Set("Authorization", "Bearer "+toks[i])
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	logf("sent %d first-seen tokens to the filled gateway in %s: %d answered 200, %d not",
		n, time.Since(start).Round(100*time.Millisecond), ok.Load(), failed.Load())
	return ok.Load(), ctx.Err()
}

// loadClient is an HTTP/1.1 client over TLS with conns keep-alive
// connections to one host, trusting the benchmark CA.
func (b *bench) loadClient(conns int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: b.pki.pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		DisableCompression:  true,
	}}
}

// memoryFacts is the resident set of a process (/proc/<pid>/status) and the
// Go heap in use that its admin listener's /metrics reports.
func memoryFacts(p *proc, admin string) string {
	rss := "?"
	if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)); err == nil {
		if m := vmRSSRe.FindSubmatch(raw); m != nil {
			kb, _ := strconv.ParseFloat(string(m[1]), 64)
			rss = fmt.Sprintf("%.0f MB", kb/1024)
		}
	}
	heap := "?"
	if resp, err := http.Get("http://" + admin + "/metrics"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if v, ok := strings.CutPrefix(line, "go_memstats_heap_inuse_bytes "); ok {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					heap = fmt.Sprintf("%.0f MB", f/(1<<20))
				}
			}
		}
	}
	return "RSS " + rss + ", Go heap in use " + heap
}

var vmRSSRe = regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB`)

// filledGateway is the gateway of the jwt-repeated-100k row.
type filledGateway struct {
	proc        *proc
	addr, admin string
	note        string // what the fill did, for the report
}
