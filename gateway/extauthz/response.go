package extauthz

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"

	"github.com/gatehouse/gatehouse/gateway/frontdoor"
)

// responseOf translates an Outcome into Envoy's answer. Allowed: an
// OkHttpResponse that sets the assertion, X-Request-Id and policy headers
// upstream, removes the consumed credentials, client-sent identity headers
// and the headers the policy removes, and adds the policy's response
// headers to the client's response (response_headers_to_add). Anything else: a DeniedHttpResponse with the proxy's status,
// challenges and problem body. A technical failure (503) is a denial too,
// never an error response, so that it stays closed whatever Envoy's
// failure_mode_allow says.
func responseOf(out *frontdoor.Outcome) *authv3.CheckResponse {
	if out.Allow {
		ok := &authv3.OkHttpResponse{
			Headers:                 make([]*corev3.HeaderValueOption, 0, len(out.Set)+1),
			HeadersToRemove:         make([]string, 0, len(out.Remove)+1),
			QueryParametersToRemove: out.RemoveQuery,
		}
		for _, h := range out.Set {
			ok.Headers = append(ok.Headers, header(h.Name, h.Value, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD))
		}
		if out.Cookie != "" {
			ok.Headers = append(ok.Headers, header("Cookie", out.Cookie, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD))
		}
		for _, h := range out.ResponseHeaders {
			ok.ResponseHeadersToAdd = append(ok.ResponseHeadersToAdd, header(h.Name, h.Value, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD))
		}
		for _, n := range out.Remove {
			ok.HeadersToRemove = append(ok.HeadersToRemove, lower(n))
		}
		if out.RemoveCookieHeader {
			ok.HeadersToRemove = append(ok.HeadersToRemove, "cookie")
		}
		return &authv3.CheckResponse{
			Status:       &rpcstatus.Status{Code: int32(codes.OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok},
		}
	}
	denied := &authv3.DeniedHttpResponse{
		Status: &typev3.HttpStatus{Code: typev3.StatusCode(out.Status)},
		Body:   string(out.Body),
	}
	for k, vs := range out.Headers {
		if k == "Content-Length" {
			continue // Envoy frames the body itself
		}
		for _, v := range vs {
			denied.Headers = append(denied.Headers, header(k, v, corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD))
		}
	}
	code := codes.PermissionDenied
	switch out.Status {
	case http.StatusUnauthorized:
		code = codes.Unauthenticated
	case http.StatusServiceUnavailable, http.StatusInternalServerError:
		code = codes.Unavailable
	}
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(code)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: denied},
	}
}

func header(k, v string, action corev3.HeaderValueOption_HeaderAppendAction) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: lower(k), Value: v},
		AppendAction: action,
	}
}

// lowerNames holds the lowercase form of header names already seen: the
// same few names (the assertion header, X-Request-Id, the credentials)
// are in every answer, and lowering each anew was an allocation apiece.
var lowerNames sync.Map

// lower is strings.ToLower for header names, cached up to a bound (names
// come from config and policy, but a policy could make many).
func lower(k string) string {
	if v, ok := lowerNames.Load(k); ok {
		return v.(string)
	}
	l := strings.ToLower(k)
	if lowerCount.Add(1) <= 1024 {
		lowerNames.Store(k, l)
	}
	return l
}

var lowerCount atomic.Int32
