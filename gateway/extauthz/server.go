// Package extauthz is the Envoy External Authorization front door: the
// gRPC service envoy.service.auth.v3.Authorization (Check) over the official
// generated types. request.go rebuilds the original request from a
// CheckRequest, response.go turns the decision core's Outcome into a
// CheckResponse; this file is the service and its listener.
package extauthz

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/gatehouse/gatehouse/gateway/frontdoor"
)

// Service answers Envoy's Check calls with the decision core.
type Service struct {
	authv3.UnimplementedAuthorizationServer
	decider frontdoor.Decider
	peers   frontdoor.Peers
	log     hclog.Logger
}

var _ authv3.AuthorizationServer = (*Service)(nil)

// NewService: d decides; only callers whose address is in peers are
// answered (the facts of a CheckRequest are the caller's word).
func NewService(d frontdoor.Decider, peers frontdoor.Peers, log hclog.Logger) *Service {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Service{decider: d, peers: peers, log: log}
}

// errUntrustedCaller is what a caller outside trusted_proxies gets: a gRPC
// error, which Envoy (failure_mode_allow: false) turns into a denial.
var errUntrustedCaller = status.Error(codes.PermissionDenied, "caller is not a trusted proxy")

// Check implements the Authorization service.
func (s *Service) Check(ctx context.Context, req *authv3.CheckRequest) (resp *authv3.CheckResponse, err error) {
	p, ok := peer.FromContext(ctx)
	if !ok || !s.peers.Allowed(p.Addr.String()) {
		return nil, errUntrustedCaller
	}
	r, rerr := requestOf(ctx, req)
	defer func() {
		// A bug must not take the listener down, nor allow: 503, closed.
		if v := recover(); v != nil {
			s.log.Error("check panicked; denied", "panic", fmt.Sprint(v))
			resp, err = responseOf(s.decider.Refuse(placeholder(ctx, r), http.StatusServiceUnavailable, "front_door_failure")), nil
		}
	}()
	if rerr != nil {
		return responseOf(s.decider.Refuse(placeholder(ctx, r), http.StatusBadRequest, "bad_original_request")), nil
	}
	return responseOf(s.decider.Decide(r)), nil
}

// placeholder is a request for Refuse when rebuilding failed part way.
func placeholder(ctx context.Context, r *http.Request) *http.Request {
	if r == nil {
		r = &http.Request{Header: http.Header{}}
	}
	return r.WithContext(ctx)
}

// NewGRPCServer serves the Authorization service. With tc, the listener
// speaks TLS (and verifies Envoy's client certificate when tc asks for
// one); without, plaintext (the config allows that on loopback only).
func NewGRPCServer(svc *Service, tc *tls.Config) *grpc.Server {
	creds := insecure.NewCredentials()
	if tc != nil {
		creds = credentials.NewTLS(tc)
	}
	gs := grpc.NewServer(
		grpc.Creds(creds),
		// Bodies come with with_request_body, which Envoy bounds by its
		// max_request_bytes; 4 MiB is gRPC's default and enough for a
		// bounded body plus headers.
		grpc.MaxRecvMsgSize(4<<20),
		grpc.MaxConcurrentStreams(250),
		grpc.ConnectionTimeout(10*time.Second),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 5 * time.Minute}),
	)
	authv3.RegisterAuthorizationServer(gs, svc)
	return gs
}
