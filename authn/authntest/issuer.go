package authntest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is how an Issuer server answers.
type Mode int32

// Modes of an Issuer server.
const (
	ServeOK          Mode = iota // the JWKS and discovery documents
	ServeUnavailable             // 503 with Retry-After
	ServeClose                   // hijack and close the connection, no response
	ServeGarbage                 // 200, a body that is not JSON
	ServeEmpty                   // 200, empty body
	ServeHuge                    // 200, a 2 MiB JSON body
	ServeNoKeys                  // 200, {"keys":[]}
)

// HugeBodySize is the size of a ServeHuge body.
const HugeBodySize = 2 << 20

// Issuer is a loopback identity provider for tests: it serves
// /jwks.json and /.well-known/openid-configuration over httptest (plain or
// TLS with an authntest CA), counts fetches, rotates keys and injects
// faults. Several Issuers are independent (multi-issuer tests).
type Issuer struct {
	srv      *httptest.Server
	ca       *CA
	issuerID string

	mu      sync.Mutex
	signers []*Signer // published
	primary *Signer   // mints

	mode         atomic.Int32
	delay        atomic.Int64
	cacheControl atomic.Pointer[string]

	jwksFetches      atomic.Int64
	discoveryFetches atomic.Int64
	otherFetches     atomic.Int64
}

// IssuerOption configures NewIssuer.
type IssuerOption func(*issuerSpec)

type issuerSpec struct {
	tls      bool
	ca       *CA
	signers  []*Signer
	alg      string
	issuerID string
}

// WithTLS serves over TLS with a server certificate from a fresh CA (see
// Issuer.CA, Issuer.Client).
func WithTLS() IssuerOption { return func(s *issuerSpec) { s.tls = true } }

// WithTLSCA serves over TLS with a server certificate issued by ca.
func WithTLSCA(ca *CA) IssuerOption { return func(s *issuerSpec) { s.tls, s.ca = true, ca } }

// WithSigners publishes signers; the first one mints. By default the issuer
// has one RS256 signer.
func WithSigners(signers ...*Signer) IssuerOption {
	return func(s *issuerSpec) { s.signers = signers }
}

// WithAlg sets the algorithm of the default signer (RS256).
func WithAlg(alg string) IssuerOption { return func(s *issuerSpec) { s.alg = alg } }

// WithIssuerID sets the iss value (the server's base URL by default).
func WithIssuerID(iss string) IssuerOption { return func(s *issuerSpec) { s.issuerID = iss } }

// NewIssuer starts an issuer server, closed when the test ends.
func NewIssuer(t TB, opts ...IssuerOption) *Issuer {
	t.Helper()
	spec := issuerSpec{alg: "RS256"}
	for _, o := range opts {
		o(&spec)
	}
	if len(spec.signers) == 0 {
		s, err := NewSigner(spec.alg)
		if err != nil {
			t.Fatalf("authntest: issuer signer: %v", err)
		}
		spec.signers = []*Signer{s}
	}
	is := &Issuer{signers: spec.signers, primary: spec.signers[0]}
	is.srv = httptest.NewUnstartedServer(http.HandlerFunc(is.serve))
	if spec.tls {
		ca := spec.ca
		if ca == nil {
			var err error
			if ca, err = NewCA(); err != nil {
				t.Fatalf("authntest: issuer CA: %v", err)
			}
		}
		leaf, err := ca.Server()
		if err != nil {
			t.Fatalf("authntest: issuer certificate: %v", err)
		}
		is.ca = ca
		is.srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}, MinVersion: tls.VersionTLS12}
		is.srv.StartTLS()
	} else {
		is.srv.Start()
	}
	is.issuerID = spec.issuerID
	if is.issuerID == "" {
		is.issuerID = is.srv.URL
	}
	t.Cleanup(is.Close)
	return is
}

// URL is the server's base URL.
func (is *Issuer) URL() string { return is.srv.URL }

// Issuer is the iss value of the tokens this issuer mints.
func (is *Issuer) Issuer() string { return is.issuerID }

// JWKSURL is the URL of the key set.
func (is *Issuer) JWKSURL() string { return is.srv.URL + "/jwks.json" }

// DiscoveryURL is the URL of the OpenID configuration document.
func (is *Issuer) DiscoveryURL() string { return is.srv.URL + "/.well-known/openid-configuration" }

// CA is the CA of the server certificate (nil for plain HTTP).
func (is *Issuer) CA() *CA { return is.ca }

// CertPool trusts the server certificate (nil for plain HTTP).
func (is *Issuer) CertPool() *x509.CertPool {
	if is.ca == nil {
		return nil
	}
	return is.ca.Pool()
}

// Client returns an HTTP client that trusts the server.
func (is *Issuer) Client() *http.Client {
	if is.ca == nil {
		return &http.Client{Timeout: 10 * time.Second}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: is.ca.Pool(), MinVersion: tls.VersionTLS12},
	}}
}

// Close stops the server (also done at test cleanup); later fetches fail
// with connection refused.
func (is *Issuer) Close() { is.srv.Close() }

// Signer returns the signer that mints.
func (is *Issuer) Signer() *Signer {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.primary
}

// Signers returns the published signers.
func (is *Issuer) Signers() []*Signer {
	is.mu.Lock()
	defer is.mu.Unlock()
	return append([]*Signer(nil), is.signers...)
}

// SetSigners publishes exactly signers; the first one mints.
func (is *Issuer) SetSigners(signers ...*Signer) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.signers = append([]*Signer(nil), signers...)
	if len(signers) > 0 {
		is.primary = signers[0]
	}
}

// Rotate creates a signer for alg (the current one's when empty), makes it
// the one that mints, and publishes it; keepOld keeps the previous keys
// published (the usual overlap), otherwise they are dropped.
func (is *Issuer) Rotate(alg string, keepOld bool) (*Signer, error) {
	if alg == "" {
		alg = is.Signer().Alg()
	}
	s, err := NewSigner(alg)
	if err != nil {
		return nil, err
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	if keepOld {
		is.signers = append([]*Signer{s}, is.signers...)
	} else {
		is.signers = []*Signer{s}
	}
	is.primary = s
	return s, nil
}

// Mint signs claims with the current signer; iss is set to Issuer() when
// claims has none.
func (is *Issuer) Mint(claims map[string]any, opts ...MintOption) (string, error) {
	if _, ok := claims["iss"]; !ok {
		c := make(map[string]any, len(claims)+1)
		for k, v := range claims {
			c[k] = v
		}
		c["iss"] = is.issuerID
		claims = c
	}
	return is.Signer().Mint(claims, opts...)
}

// JWKS returns the key set document currently published.
func (is *Issuer) JWKS() ([]byte, error) { return JWKS(is.Signers()...) }

// SetMode changes how the server answers.
func (is *Issuer) SetMode(m Mode) { is.mode.Store(int32(m)) }

// SetDelay delays every answer by d (until the client gives up).
func (is *Issuer) SetDelay(d time.Duration) { is.delay.Store(int64(d)) }

// SetCacheControl sets the Cache-Control header of the documents ("" for
// none).
func (is *Issuer) SetCacheControl(v string) { is.cacheControl.Store(&v) }

// JWKSFetches counts requests for the key set.
func (is *Issuer) JWKSFetches() int64 { return is.jwksFetches.Load() }

// DiscoveryFetches counts requests for the discovery document.
func (is *Issuer) DiscoveryFetches() int64 { return is.discoveryFetches.Load() }

// Fetches counts every request the server received.
func (is *Issuer) Fetches() int64 {
	return is.jwksFetches.Load() + is.discoveryFetches.Load() + is.otherFetches.Load()
}

// ResetCounts sets the fetch counters to zero.
func (is *Issuer) ResetCounts() {
	is.jwksFetches.Store(0)
	is.discoveryFetches.Store(0)
	is.otherFetches.Store(0)
}

func (is *Issuer) serve(w http.ResponseWriter, r *http.Request) {
	var doc func() ([]byte, error)
	switch r.URL.Path {
	case "/jwks.json":
		is.jwksFetches.Add(1)
		doc = is.JWKS
	case "/.well-known/openid-configuration":
		is.discoveryFetches.Add(1)
		doc = is.discovery
	default:
		is.otherFetches.Add(1)
		http.NotFound(w, r)
		return
	}
	if d := time.Duration(is.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if cc := is.cacheControl.Load(); cc != nil && *cc != "" {
		w.Header().Set("Cache-Control", *cc)
	}
	switch Mode(is.mode.Load()) {
	case ServeUnavailable:
		w.Header().Set("Retry-After", "5")
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	case ServeClose:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case ServeGarbage:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("<html>not json{{{"))
		return
	case ServeEmpty:
		w.Header().Set("Content-Type", "application/json")
		return
	case ServeHuge:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[],"pad":"` + strings.Repeat("A", HugeBodySize) + `"}`))
		return
	case ServeNoKeys:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[]}`))
		return
	}
	body, err := doc()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (is *Issuer) discovery() ([]byte, error) {
	algs := map[string]bool{}
	for _, s := range is.Signers() {
		algs[s.Alg()] = true
	}
	list := make([]string, 0, len(algs))
	for a := range algs {
		list = append(list, a)
	}
	return json.Marshal(map[string]any{
		"issuer":                                is.issuerID,
		"jwks_uri":                              is.JWKSURL(),
		"id_token_signing_alg_values_supported": list,
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
	})
}
