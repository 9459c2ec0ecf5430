package frontdoor_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/gatehouse/gatehouse/gateway/extauthz"
	"github.com/gatehouse/gatehouse/gateway/forwardauth"
	"github.com/gatehouse/gatehouse/gateway/frontdoor"
)

// The cost of one decision through each front door for a JWT the gateway
// has seen (verification, decision and assertion caches warm), as Envoy or
// NGINX would ask for it: the quickstart's GET /petstore/v1/pets with the
// read token. Check and ForwardAuth are the gateway's own CPU (the handler
// called in process, audit line written); CheckLoopback adds a real gRPC
// client and TLS on loopback, so it also counts the client.
//
// Each also reports cpu-ns/op: the process's CPU time (user + system, every
// goroutine: GC, the audit writer) per operation. On a shared machine ns/op
// is wall time and includes waiting for a core; cpu-ns/op does not.

// cpuTime is the process's CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs op b.N times and reports cpu-ns/op.
func loop(b *testing.B, op func()) {
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	n := 0
	for b.Loop() {
		op()
		n++
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
}

func checkRequest(q *quickstart) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "10.1.2.3", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "bench", Method: "GET", Path: "/petstore/v1/pets", Host: "api.example", Scheme: "https", Protocol: "HTTP/1.1",
			Headers: map[string]string{
				"authorization": "Bearer " + q.tokens["read"], "user-agent": "bench", "accept": "*/*",
				"x-forwarded-for": "10.1.2.3", "x-forwarded-proto": "https", "x-request-id": "0f1e2d3c-bench",
			},
		}},
	}}
}

func BenchmarkCheck(b *testing.B) {
	q := startQuickstart(b)
	peers, _ := frontdoor.ParsePeers([]string{"127.0.0.1"})
	svc := extauthz.NewService(q.srv.Decider(), peers, nil)
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}})
	req := checkRequest(q)
	if resp, err := svc.Check(ctx, req); err != nil || resp.GetOkResponse() == nil {
		b.Fatalf("not allowed: %v %v", resp, err)
	}
	loop(b, func() {
		if _, err := svc.Check(ctx, req); err != nil {
			b.Fatal(err)
		}
	})
}

func BenchmarkCheckLoopback(b *testing.B) {
	q := startQuickstart(b)
	conn, err := grpc.NewClient(q.grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: q.pool, ServerName: "localhost"})))
	must(b, err)
	b.Cleanup(func() { _ = conn.Close() })
	check := authv3.NewAuthorizationClient(conn)
	req := checkRequest(q)
	if resp, err := check.Check(context.Background(), req); err != nil || resp.GetOkResponse() == nil {
		b.Fatalf("not allowed: %v %v", resp, err)
	}
	loop(b, func() {
		if _, err := check.Check(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	})
}

func BenchmarkForwardAuth(b *testing.B) {
	q := startQuickstart(b)
	peers, _ := frontdoor.ParsePeers([]string{"127.0.0.1"})
	h := forwardauth.New(q.srv.Decider(), peers, nil)
	hdr := http.Header{
		"Authorization": {"Bearer " + q.tokens["read"]}, "User-Agent": {"bench"}, "Accept": {"*/*"},
		"X-Original-Method": {"GET"}, "X-Original-Uri": {"/petstore/v1/pets"}, "X-Forwarded-Proto": {"https"},
		"X-Request-Id": {"0f1e2d3c-bench"},
	}
	run := func() int {
		r := httptest.NewRequest("GET", forwardauth.NGINXPath, nil)
		r.RemoteAddr = "127.0.0.1:5000"
		r.Header = hdr.Clone()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if code := run(); code != 200 {
		b.Fatalf("status %d", code)
	}
	loop(b, func() { run() })
}
