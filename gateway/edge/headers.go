package edge

import (
	"net/http"
	"strings"
)

// methodOverrideHeaders make some frameworks run another method than the one
// the gateway authorized (a GET that the upstream treats as a DELETE). They
// are removed from every request: the policy and the upstream see one
// method, the request line's.
var methodOverrideHeaders = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// StripMethodOverrides removes method-override headers in place.
func StripMethodOverrides(h http.Header) {
	for _, n := range methodOverrideHeaders {
		delete(h, n)
	}
}

// DefaultStripHeaders are the header patterns upstreams commonly trust as
// identity, client address or original URL: a client never gets to send
// them. A pattern is a header name, or a prefix ending in "*". Matching
// ignores case and treats "_" as "-", because CGI/WSGI-style frameworks read
// X_User_Id and X-User-Id as one variable. request_headers.strip adds
// patterns, request_headers.keep exempts exact names.
var DefaultStripHeaders = []string{
	// Identity families: users, API keys, auth results, consumers and
	// clients of other gateways, JWTs and tokens, principals.
	"X-User*", "X-Api-Key*", "X-Apikey*", "X-Auth*", "X-Consumer*", "X-Client-*", "X-Jwt-*",
	"X-Remote-*", "Remote-User", "X-Credential-*", "X-Principal*", "X-Identity*", "X-Subject*",
	"X-Roles", "X-Groups", "X-Scopes", "X-Email", "X-Id-Token", "X-Access-Token", "X-Gatehouse-*",
	// Client certificates (RFC 9440 and the older conventions).
	"Client-Cert*", "X-Ssl-Client-*", "Ssl-Client-*",
	// Client addresses and original URLs (the proxy sets X-Forwarded-For,
	// -Host and -Proto itself).
	"X-Forwarded-*", "Forwarded", "X-Real-Ip", "True-Client-Ip", "Cf-Connecting-Ip", "Fastly-Client-Ip",
	"X-Cluster-Client-Ip", "X-Original-*", "X-Rewrite-Url",
	// Identity headers of other gateways and identity-aware proxies: WSO2,
	// AWS API Gateway and ALB, Envoy, Google IAP, Azure App Service,
	// Cloudflare Access, Pomerium.
	"X-Wso2-*", "X-Apigateway-*", "X-Amzn-Oidc-*", "X-Envoy-*", "X-Goog-Authenticated-User-*", "X-Goog-Iap-*",
	"X-Ms-Client-Principal*", "X-Ms-Token-*", "Cf-Access-*", "X-Pomerium-*",
}

// HeaderStripper removes client-sent headers that match its patterns.
type HeaderStripper struct {
	exact    map[string]struct{} // folded names
	prefixes []string            // folded prefixes
	keep     map[string]struct{} // folded names never removed
}

// NewHeaderStripper builds a stripper for patterns (DefaultStripHeaders plus
// the configured ones) and the headers the gateway itself sets upstream;
// keep exempts names.
func NewHeaderStripper(patterns, own, keep []string) *HeaderStripper {
	s := &HeaderStripper{exact: map[string]struct{}{}, keep: map[string]struct{}{}}
	for _, p := range patterns {
		if pre, ok := strings.CutSuffix(p, "*"); ok {
			s.prefixes = append(s.prefixes, FoldHeader(pre))
			continue
		}
		s.exact[FoldHeader(p)] = struct{}{}
	}
	for _, n := range own {
		if n != "" {
			s.exact[FoldHeader(n)] = struct{}{}
		}
	}
	for _, n := range keep {
		s.keep[FoldHeader(n)] = struct{}{}
	}
	return s
}

// FoldHeader is the form patterns match on: lower case, "_" as "-".
func FoldHeader(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// Matches reports whether a header name is one to remove.
func (s *HeaderStripper) Matches(name string) bool {
	var buf [64]byte
	f := buf[:0]
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		f = append(f, c)
	}
	if _, ok := s.keep[string(f)]; ok {
		return false
	}
	if _, ok := s.exact[string(f)]; ok {
		return true
	}
	for _, p := range s.prefixes {
		if len(f) >= len(p) && string(f[:len(p)]) == p {
			return true
		}
	}
	return false
}

// Strip removes matching headers from h in place, except the exact
// (canonical) names in except: credential headers an authenticator still has
// to read. The proxy strips again, without exceptions, before forwarding.
func (s *HeaderStripper) Strip(h http.Header, except map[string]struct{}) {
	for k := range h {
		if _, ok := except[k]; ok {
			continue
		}
		if s.Matches(k) {
			delete(h, k)
		}
	}
}
