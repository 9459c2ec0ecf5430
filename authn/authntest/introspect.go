package authntest

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// IntrospectMode is how an Introspector answers (faults for fail-closed
// tests).
type IntrospectMode int32

// Modes of an Introspector.
const (
	IntrospectOK              IntrospectMode = iota // RFC 7662 answers from the token table
	IntrospectUnavailable                           // 503
	IntrospectServerError                           // 500
	IntrospectUnauthorized                          // 401, whatever the client sends
	IntrospectClose                                 // hijack and close the connection
	IntrospectGarbage                               // 200, application/json, not JSON
	IntrospectHTML                                  // 200, text/html
	IntrospectHuge                                  // 200, a 2 MiB JSON answer
	IntrospectActiveString                          // 200, {"active":"true",…}
	IntrospectRedirect                              // 307 to another URL
	IntrospectDuplicateActive                       // 200, the token's answer with "active":false first and "active":true last
)

// Introspector is a loopback RFC 7662 token introspection server for tests:
// a table of active tokens (anything else is inactive), client
// authentication (client_secret_basic, client_secret_post or a bearer
// token; anything else gets 401), a delay, faults, and call counters.
type Introspector struct {
	srv *httptest.Server

	clientID, secret, bearer string
	tlsCA                    *CA

	mu     sync.Mutex
	tokens map[string]map[string]any
	perTok map[string]int

	mode  atomic.Int32
	delay atomic.Int64
	calls atomic.Int64
}

// IntrospectorOption configures NewIntrospector.
type IntrospectorOption func(*Introspector)

// WithClientSecret accepts client_id/secret by client_secret_basic or
// client_secret_post (the default: "gateway" / "gateway-secret").
func WithClientSecret(id, secret string) IntrospectorOption {
	return func(is *Introspector) { is.clientID, is.secret = id, secret }
}

// WithBearerAuth also accepts Authorization: Bearer <token>.
func WithBearerAuth(token string) IntrospectorOption {
	return func(is *Introspector) { is.bearer = token }
}

// WithIntrospectorTLS serves over TLS with a server certificate (localhost,
// 127.0.0.1) issued by ca.
func WithIntrospectorTLS(ca *CA) IntrospectorOption {
	return func(is *Introspector) { is.tlsCA = ca }
}

// NewIntrospector starts an introspection server at /introspect, closed
// when the test ends.
func NewIntrospector(t TB, opts ...IntrospectorOption) *Introspector {
	t.Helper()
	is := &Introspector{clientID: "gateway", secret: "gateway-secret", tokens: map[string]map[string]any{}, perTok: map[string]int{}}
	for _, o := range opts {
		o(is)
	}
	is.srv = httptest.NewUnstartedServer(http.HandlerFunc(is.serve))
	if is.tlsCA != nil {
		leaf, err := is.tlsCA.Server("localhost", "127.0.0.1")
		if err != nil {
			t.Fatalf("authntest: introspector certificate: %v", err)
		}
		is.srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}, MinVersion: tls.VersionTLS12}
		is.srv.StartTLS()
	} else {
		is.srv.Start()
	}
	t.Cleanup(is.srv.Close)
	return is
}

// URL is the introspection endpoint.
func (is *Introspector) URL() string { return is.srv.URL + "/introspect" }

// ClientID and Secret are the client credentials the server accepts.
func (is *Introspector) ClientID() string { return is.clientID }

// Secret is the client secret the server accepts.
func (is *Introspector) Secret() string { return is.secret }

// Issue adds an active token with the given answer members (active: true is
// added) and returns it: 32 random bytes, base64url.
func (is *Introspector) Issue(claims map[string]any) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	is.Set(tok, claims)
	return tok
}

// Set makes tok active with the given answer members.
func (is *Introspector) Set(tok string, claims map[string]any) {
	c := map[string]any{"active": true}
	for k, v := range claims {
		c[k] = v
	}
	is.mu.Lock()
	is.tokens[tok] = c
	is.mu.Unlock()
}

// Revoke makes tok inactive.
func (is *Introspector) Revoke(tok string) {
	is.mu.Lock()
	delete(is.tokens, tok)
	is.mu.Unlock()
}

// SetMode switches the answer mode.
func (is *Introspector) SetMode(m IntrospectMode) { is.mode.Store(int32(m)) }

// SetDelay delays every answer.
func (is *Introspector) SetDelay(d time.Duration) { is.delay.Store(int64(d)) }

// Calls is the number of introspection requests received.
func (is *Introspector) Calls() int64 { return is.calls.Load() }

// CallsFor is the number of authenticated requests about tok.
func (is *Introspector) CallsFor(tok string) int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.perTok[tok]
}

// Exp is a NumericDate d from now, for answers.
func Exp(d time.Duration) int64 { return time.Now().Add(d).Unix() }

func (is *Introspector) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/introspect" {
		http.NotFound(w, r)
		return
	}
	is.calls.Add(1)
	if d := time.Duration(is.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	mode := IntrospectMode(is.mode.Load())
	switch mode {
	case IntrospectUnavailable:
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	case IntrospectServerError:
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	case IntrospectUnauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm="introspection"`)
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	case IntrospectClose:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case IntrospectRedirect:
		http.Redirect(w, r, is.srv.URL+"/elsewhere", http.StatusTemporaryRedirect)
		return
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		http.Error(w, "POST a form", http.StatusBadRequest)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if !is.authenticated(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="introspection"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	tok := r.PostForm.Get("token")
	is.mu.Lock()
	is.perTok[tok]++
	claims, ok := is.tokens[tok]
	is.mu.Unlock()
	if !ok {
		claims = map[string]any{"active": false}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	switch mode {
	case IntrospectGarbage:
		_, _ = w.Write([]byte(`{"active": true, "scope": "read"`))
		return
	case IntrospectHTML:
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`{"active": true}`))
		return
	case IntrospectHuge:
		_, _ = w.Write([]byte(`{"active":true,"pad":"` + strings.Repeat("A", HugeBodySize) + `"}`))
		return
	case IntrospectDuplicateActive:
		c := map[string]any{}
		for k, v := range claims {
			c[k] = v
		}
		c["active"] = false
		b, _ := json.Marshal(c)
		_, _ = w.Write(append(b[:len(b)-1], `,"active":true}`...))
		return
	case IntrospectActiveString:
		c := map[string]any{}
		for k, v := range claims {
			c[k] = v
		}
		c["active"] = "true"
		claims = c
	}
	_ = json.NewEncoder(w).Encode(claims)
}

// authenticated checks the client: Basic (form-urlencoded parts, RFC 6749
// §2.3.1), client_secret_post, or the bearer token; exactly one method.
func (is *Introspector) authenticated(r *http.Request) bool {
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	authz := r.Header.Get("Authorization")
	_, postID := r.PostForm["client_id"]
	switch {
	case strings.HasPrefix(authz, "Bearer "):
		return is.bearer != "" && !postID && eq(strings.TrimPrefix(authz, "Bearer "), is.bearer)
	case authz != "":
		id, secret, ok := r.BasicAuth()
		if !ok || postID {
			return false
		}
		id, err1 := url.QueryUnescape(id)
		secret, err2 := url.QueryUnescape(secret)
		return err1 == nil && err2 == nil && eq(id, is.clientID) && eq(secret, is.secret)
	case postID:
		return eq(r.PostForm.Get("client_id"), is.clientID) && eq(r.PostForm.Get("client_secret"), is.secret)
	}
	return false
}
