package authn

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// checkFetchURL parses a key set or discovery URL and applies the transport
// rules: https, or plain http to a loopback host (or anywhere with
// allowHTTP); a host; no user info or fragment.
func checkFetchURL(raw string, allowHTTP bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q", raw)
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("URL %q must have a host and no user info or fragment", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP && !isLoopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("URL %q is plain http: use https (plain http is only accepted for loopback hosts, or with an explicit allow_insecure_http)", raw)
		}
	default:
		return nil, fmt.Errorf("URL %q is not https", raw)
	}
	return u, nil
}

// CheckJWKSURL reports whether raw may be fetched for keys or discovery: an
// https URL with a host, or plain http to a loopback host (or anywhere when
// allowHTTP is set), without user info or fragment. For config checks.
func CheckJWKSURL(raw string, allowHTTP bool) error {
	_, err := checkFetchURL(raw, allowHTTP)
	return err
}

// DiscoveryURLFor returns iss's OpenID Provider configuration URL (OpenID
// Connect Discovery 1.0 §4: a terminating "/" of iss is removed first).
func DiscoveryURLFor(iss string) string {
	return strings.TrimSuffix(iss, "/") + "/.well-known/openid-configuration"
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// maxRedirects bounds the redirects a fetch follows (same host only).
const maxRedirects = 3

// errRedirect is wrapped by refused redirects.
var errRedirect = errors.New("redirect refused")

// newFetchClient returns the HTTP client of one source: its own transport
// (one issuer's slow server never holds another's connections), the
// configured roots, redirects only to the same host under the same rules.
func newFetchClient(cfg RemoteJWKSConfig) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: cfg.FetchTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   cfg.FetchTimeout,
		ResponseHeaderTimeout: cfg.FetchTimeout,
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   cfg.FetchTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("%w: more than %d redirects", errRedirect, maxRedirects)
			}
			if !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
				return fmt.Errorf("%w: to another host (%s)", errRedirect, req.URL.Host)
			}
			if _, err := checkFetchURL(req.URL.String(), cfg.AllowInsecureHTTP); err != nil {
				return fmt.Errorf("%w: %w", errRedirect, err)
			}
			return nil
		},
	}
}

// fetchKeys discovers the key set URL if needed, fetches and parses the key
// set, and returns it with its refresh interval. Any error leaves the
// current set in place.
func (r *RemoteJWKS) fetchKeys(ctx context.Context) (*StaticKeys, time.Duration, error) {
	u := r.jwksURL.Load()
	if u == nil {
		var err error
		if u, err = r.discover(ctx); err != nil {
			return nil, 0, err
		}
	}
	body, hdr, err := r.get(ctx, u, "application/jwk-set+json, application/json")
	if err != nil {
		if r.cfg.DiscoveryURL != "" {
			r.jwksURL.Store(nil) // the provider may have moved it: rediscover next time
		}
		return nil, 0, err
	}
	keys, err := parseRemoteJWKS(body, r.log.With("issuer", r.cfg.Name))
	if err != nil {
		return nil, 0, err
	}
	return keys, r.intervalFrom(hdr), nil
}

// parseRemoteJWKS refuses sets of more than MaxJWKSKeys keys, then parses as
// ParseJWKS does (an empty or unusable set is an error).
func parseRemoteJWKS(body []byte, log hclog.Logger) (*StaticKeys, error) {
	set, err := jwksMembers(body)
	if err != nil {
		return nil, err
	}
	if len(set) > MaxJWKSKeys {
		return nil, fmt.Errorf("jwks: %d keys, more than the limit of %d", len(set), MaxJWKSKeys)
	}
	return ParseJWKS(body, log)
}

// discover fetches the OpenID Provider configuration, checks that its
// issuer is exactly the configured iss (OpenID Connect Discovery 1.0 §4.3),
// and returns its jwks_uri, which must pass the same URL rules.
func (r *RemoteJWKS) discover(ctx context.Context) (*url.URL, error) {
	du, err := checkFetchURL(r.cfg.DiscoveryURL, r.cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	body, _, err := r.get(ctx, du, "application/json")
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	u, err := parseDiscovery(body, r.cfg.Issuer, r.cfg.AllowInsecureHTTP, r.cfg.AllowedJWKSHosts)
	if err != nil {
		return nil, err
	}
	if old := r.jwksURL.Load(); old == nil || old.Host != u.Host {
		r.log.Info("discovered key set host", "issuer", r.cfg.Name, "jwks_host", u.Host)
	}
	r.jwksURL.Store(u)
	return u, nil
}

// parseDiscovery reads an OpenID Provider configuration document: its
// issuer must be exactly iss, and its jwks_uri pass checkFetchURL and be
// on the issuer's host or one of allowedHosts.
func parseDiscovery(body []byte, iss string, allowHTTP bool, allowedHosts []string) (*url.URL, error) {
	var doc struct {
		Issuer  *string `json:"issuer"`
		JWKSURI string  `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, errors.New("discovery: not a JSON object")
	}
	if doc.Issuer == nil {
		return nil, errors.New("discovery: the document has no issuer")
	}
	if *doc.Issuer != iss {
		hint := ""
		if strings.TrimSuffix(*doc.Issuer, "/") == strings.TrimSuffix(iss, "/") {
			hint = "; they differ only by a trailing slash"
		}
		return nil, fmt.Errorf("discovery: the document's issuer %q is not the configured iss %q%s", clip(*doc.Issuer), iss, hint)
	}
	if doc.JWKSURI == "" {
		return nil, errors.New("discovery: no jwks_uri")
	}
	u, err := checkFetchURL(doc.JWKSURI, allowHTTP)
	if err != nil {
		return nil, fmt.Errorf("discovery: jwks_uri: %w", err)
	}
	if !jwksHostAllowed(u, iss, allowedHosts) {
		return nil, fmt.Errorf("discovery: jwks_uri is on host %q, not the issuer's; list it in allowed_jwks_hosts to trust it", clip(u.Host))
	}
	return u, nil
}

// jwksHostAllowed: u is on the issuer's own host (scheme default ports
// folded in) or its host, with or without the port, is listed in allowed.
func jwksHostAllowed(u *url.URL, iss string, allowed []string) bool {
	if is, err := url.Parse(iss); err == nil && hostPort(is) == hostPort(u) {
		return true
	}
	for _, a := range allowed {
		if strings.EqualFold(a, u.Host) || strings.EqualFold(a, u.Hostname()) || strings.EqualFold(a, hostPort(u)) {
			return true
		}
	}
	return false
}

// hostPort is u's lower-cased host with its port, the scheme's default
// port filled in.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Hostname()) + ":" + port
}

// get fetches one document: 200 only, at most MaxJWKSBytes.
func (r *RemoteJWKS) get(ctx context.Context, u *url.URL, accept string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "gatehouse")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, nil, fmt.Errorf("GET %s: status %d", u.Redacted(), resp.StatusCode)
	}
	if resp.ContentLength > MaxJWKSBytes {
		return nil, nil, fmt.Errorf("GET %s: %d bytes, more than the limit of %d", u.Redacted(), resp.ContentLength, MaxJWKSBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	if len(body) > MaxJWKSBytes {
		return nil, nil, fmt.Errorf("GET %s: more than the limit of %d bytes", u.Redacted(), MaxJWKSBytes)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil, fmt.Errorf("GET %s: empty body", u.Redacted())
	}
	return body, resp.Header, nil
}

// intervalFrom returns the refresh interval a response asks for:
// Cache-Control max-age clamped to [MinRefresh, MaxRefresh]; no-store or
// no-cache mean MinRefresh; otherwise RefreshInterval.
func (r *RemoteJWKS) intervalFrom(h http.Header) time.Duration {
	return cacheInterval(h.Get("Cache-Control"), r.cfg.RefreshInterval, r.cfg.MinRefresh, r.cfg.MaxRefresh)
}

func cacheInterval(cc string, def, lo, hi time.Duration) time.Duration {
	maxAge, found := time.Duration(-1), false
	for _, dir := range strings.Split(cc, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(dir), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "no-store", "no-cache":
			return lo
		case "max-age":
			found = true
			sec, err := strconv.ParseUint(strings.Trim(strings.TrimSpace(value), `"`), 10, 64)
			switch {
			case err != nil:
				maxAge = -1 // RFC 9111 §4.2.1: an invalid max-age is ignored
			case sec > uint64(hi/time.Second):
				maxAge = hi
			default:
				maxAge = time.Duration(sec) * time.Second
			}
		}
	}
	if !found || maxAge < 0 {
		return def
	}
	return min(max(maxAge, lo), hi)
}

// clip shortens a remote document's string for an error message.
func clip(s string) string {
	if len(s) > 128 {
		return strings.ToValidUTF8(s[:128], "") + "…"
	}
	return s
}
