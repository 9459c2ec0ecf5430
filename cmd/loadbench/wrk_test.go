package main

import (
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	cases := []struct {
		name     string
		out      string
		rps      float64
		requests int64
		p50, p99 time.Duration
		non2xx   int64
		sockErrs int64
		err      bool
	}{
		{name: "ok/latency", out: `Running 10s test @ https://127.0.0.1:43377/bench/v1/items/42
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.12ms    3.01ms  40.00ms   80.00%
    Req/Sec     4.50k   400.00     5.10k    70.00%
  Latency Distribution
     50%    6.61ms
     75%    8.10ms
     90%   10.20ms
     99%   18.05ms
  89062 requests in 10.00s, 14.20MB read
Requests/sec:   8906.12
Transfer/sec:      1.42MB
`, rps: 8906.12, requests: 89062, p50: 6610 * time.Microsecond, p99: 18050 * time.Microsecond},
		{name: "ok/errors_and_units", out: `Running 3s test @ https://127.0.0.1:1/x
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    1.90ms
     99%     1.02s
  1200 requests in 3.01s, 1.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 17
Requests/sec:    398.67
Transfer/sec:    340.20KB
fresh-tokens thread=0 used=601 available=900
`, rps: 398.67, requests: 1200, p50: 812 * time.Microsecond, p99: 1020 * time.Millisecond, non2xx: 17, sockErrs: 5},
		{name: "fail/no_requests", out: `  Latency Distribution
     50%    0.00us
     99%    0.00us
  0 requests in 1.30s, 0.00B read
Requests/sec:      0.00
`, err: true},
		{name: "fail/no_latency", out: "Requests/sec:   10.00\n", err: true},
		{name: "fail/garbage", out: "unable to connect to 127.0.0.1:1 Connection refused\n", err: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := parseWrk(c.out)
			if c.err {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.rps != c.rps || r.requests != c.requests || r.p50 != c.p50 || r.p99 != c.p99 || r.non2xx != c.non2xx || r.sockErrs != c.sockErrs {
				t.Fatalf("got rps %v requests %d p50 %v p99 %v non2xx %d sockerr %d", r.rps, r.requests, r.p50, r.p99, r.non2xx, r.sockErrs)
			}
		})
	}
}

func TestFreshTokenLines(t *testing.T) {
	out := "fresh-tokens thread=0 used=601 available=900\nfresh-tokens thread=1 used=950 available=900\n"
	m := freshRe.FindAllStringSubmatch(out, -1)
	if len(m) != 2 || m[1][1] != "950" || m[1][2] != "900" {
		t.Fatalf("%q", m)
	}
}
