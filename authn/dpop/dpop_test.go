package dpop_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/authn/dpop"
)

const (
	token = "access-token-123"
	htu   = "https://api.example/pets/1"
)

func request(method, target string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.TLS = &tls.ConnectionState{}
	return r
}

func TestVerify(t *testing.T) {
	es := authntest.Must(authntest.NewSigner("ES256"))
	other := authntest.Must(authntest.NewSigner("ES256"))
	hs := authntest.Must(authntest.NewSigner("HS256"))
	priv := authntest.Must(es.PrivateJWKMap())
	now := time.Now()
	type tc struct {
		name   string
		signer *authntest.Signer
		method string
		target string
		jkt    string
		opts   []authntest.ProofOption
		raw    string // instead of a minted proof
		want   string // "" ok, else the error code
	}
	cases := []tc{
		{name: "ok/es256", signer: es},
		{name: "ok/htu_default_port_and_case", signer: es, opts: []authntest.ProofOption{authntest.ProofClaim("htu", "HTTPS://API.example:443/pets/1?x=1#f")}},
		{name: "ok/query_ignored", signer: es, target: htu + "?page=2"},
		{name: "fail/htm", signer: es, method: "POST", want: dpop.CodeInvalidProof},
		{name: "fail/htu_path", signer: es, opts: []authntest.ProofOption{authntest.ProofClaim("htu", "https://api.example/pets/2")}, want: dpop.CodeInvalidProof},
		{name: "fail/htu_scheme", signer: es, opts: []authntest.ProofOption{authntest.ProofClaim("htu", "http://api.example/pets/1")}, want: dpop.CodeInvalidProof},
		{name: "fail/htu_host", signer: es, opts: []authntest.ProofOption{authntest.ProofClaim("htu", "https://evil.example/pets/1")}, want: dpop.CodeInvalidProof},
		{name: "fail/htu_relative", signer: es, opts: []authntest.ProofOption{authntest.ProofClaim("htu", "/pets/1")}, want: dpop.CodeInvalidProof},
		{name: "fail/iat_stale", signer: es, opts: []authntest.ProofOption{authntest.ProofClaim("iat", now.Add(-2*time.Minute).Unix())}, want: dpop.CodeInvalidProof},
		{name: "fail/iat_future", signer: es, opts: []authntest.ProofOption{authntest.ProofClaim("iat", now.Add(time.Minute).Unix())}, want: dpop.CodeInvalidProof},
		{name: "fail/iat_string", signer: es, opts: []authntest.ProofOption{authntest.ProofClaim("iat", "now")}, want: dpop.CodeInvalidProof},
		{name: "fail/ath_wrong", signer: es, opts: []authntest.ProofOption{authntest.ProofClaim("ath", authntest.AccessTokenHash("other"))}, want: dpop.CodeInvalidProof},
		{name: "fail/ath_missing", signer: es, opts: []authntest.ProofOption{authntest.ProofClaim("ath", nil)}, want: dpop.CodeInvalidProof},
		{name: "fail/jti_missing", signer: es, opts: []authntest.ProofOption{authntest.ProofClaim("jti", nil)}, want: dpop.CodeInvalidProof},
		{name: "fail/typ_jwt", signer: es, opts: []authntest.ProofOption{authntest.ProofHeader("typ", "JWT")}, want: dpop.CodeInvalidProof},
		{name: "fail/typ_missing", signer: es, opts: []authntest.ProofOption{authntest.ProofHeader("typ", nil)}, want: dpop.CodeInvalidProof},
		{name: "fail/jwk_missing", signer: es, opts: []authntest.ProofOption{authntest.ProofHeader("jwk", nil)}, want: dpop.CodeInvalidProof},
		{name: "fail/jwk_private", signer: es, opts: []authntest.ProofOption{authntest.ProofHeader("jwk", priv)}, want: dpop.CodeInvalidProof},
		{name: "fail/jwk_other_key", signer: es, opts: []authntest.ProofOption{authntest.ProofHeader("jwk", authntest.Must(other.JWKMap()))}, want: dpop.CodeInvalidProof},
		{name: "fail/jkt_other_key", signer: other, jkt: es.JKT(), want: dpop.CodeInvalidProof},
		{name: "fail/hmac", signer: hs, jkt: "x", want: dpop.CodeInvalidProof},
		{name: "fail/crit", signer: es, opts: []authntest.ProofOption{authntest.ProofHeader("crit", []string{"exp"})}, want: dpop.CodeInvalidProof},
		{name: "fail/not_a_jws", raw: "not.a.proof", want: dpop.CodeInvalidProof},
		{name: "fail/empty", raw: "-", want: dpop.CodeInvalidProof},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := authntest.Must(dpop.New(dpop.Config{}))
			method, target := c.method, c.target
			if method == "" {
				method = "GET"
			}
			if target == "" {
				target = htu
			}
			proof := c.raw
			jkt := c.jkt
			if c.signer != nil {
				proof = authntest.Must(c.signer.DPoPProof("GET", htu, token, c.opts...))
				if jkt == "" {
					jkt = c.signer.JKT()
				}
			}
			r := request(method, target)
			r.Header.Set("DPoP", proof)
			err := v.Verify(r, token, jkt)
			var de *dpop.Error
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Verify: %v", err)
			case c.want != "" && (!errors.As(err, &de) || de.Code != c.want):
				t.Fatalf("Verify = %v, want code %s", err, c.want)
			}
		})
	}
}

// TestAlgorithms: a real client's proofs with each algorithm family verify.
func TestAlgorithms(t *testing.T) {
	for _, alg := range []string{"ES256", "ES384", "RS256", "PS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			s := authntest.Must(authntest.NewSigner(alg))
			v := authntest.Must(dpop.New(dpop.Config{}))
			r := request("GET", htu)
			r.Header.Set("DPoP", authntest.Must(s.DPoPProof("GET", htu, token)))
			if err := v.Verify(r, token, s.JKT()); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("fail/not_allowed", func(t *testing.T) {
		s := authntest.Must(authntest.NewSigner("RS256"))
		v := authntest.Must(dpop.New(dpop.Config{Algorithms: []string{"ES256"}}))
		r := request("GET", htu)
		r.Header.Set("DPoP", authntest.Must(s.DPoPProof("GET", htu, token)))
		if err := v.Verify(r, token, s.JKT()); err == nil {
			t.Fatal("an RS256 proof passed an ES256-only verifier")
		}
	})
	t.Run("fail/hmac_configured", func(t *testing.T) {
		if _, err := dpop.New(dpop.Config{Algorithms: []string{"HS256"}}); err == nil {
			t.Fatal("HS256 accepted as a proof algorithm")
		}
	})
}

func TestHeaders(t *testing.T) {
	s := authntest.Must(authntest.NewSigner("ES256"))
	v := authntest.Must(dpop.New(dpop.Config{}))
	for _, c := range []struct {
		name   string
		proofs int
	}{{"fail/none", 0}, {"fail/two", 2}} {
		t.Run(c.name, func(t *testing.T) {
			r := request("GET", htu)
			for range c.proofs {
				r.Header.Add("DPoP", authntest.Must(s.DPoPProof("GET", htu, token)))
			}
			if err := v.Verify(r, token, s.JKT()); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func replayCaches(t *testing.T) map[string]func() dpop.Replay {
	return map[string]func() dpop.Replay{
		"memory": func() dpop.Replay { return dpop.NewMemory(0, nil) },
		"redis": func() dpop.Replay {
			c := redis.NewClient(&redis.Options{Addr: authntest.StartRedis(t)})
			t.Cleanup(func() { _ = c.Close() })
			return dpop.NewRedis(c, "")
		},
	}
}

// TestReplay: a proof is accepted once, by every verifier sharing the cache.
func TestReplay(t *testing.T) {
	s := authntest.Must(authntest.NewSigner("ES256"))
	for name, mk := range replayCaches(t) {
		t.Run(name, func(t *testing.T) {
			cache := mk()
			a := authntest.Must(dpop.New(dpop.Config{Replay: cache}))
			b := authntest.Must(dpop.New(dpop.Config{Replay: cache}))
			proof := authntest.Must(s.DPoPProof("GET", htu, token))
			for i, v := range []*dpop.Verifier{a, b, a} {
				r := request("GET", htu)
				r.Header.Set("DPoP", proof)
				err := v.Verify(r, token, s.JKT())
				if i == 0 && err != nil {
					t.Fatalf("first use: %v", err)
				}
				if i > 0 && !errors.Is(err, dpop.ErrReplayed) {
					t.Fatalf("use %d: %v, want a replay", i+1, err)
				}
			}
		})
	}
}

func TestMemoryBound(t *testing.T) {
	m := dpop.NewMemory(16, nil)
	until := time.Now().Add(time.Minute)
	var full error
	for i := range 64 {
		var k dpop.ReplayKey
		k[0], k[1] = byte(i), byte(i>>8)
		if _, err := m.Use(context.Background(), k, until); err != nil {
			full = err
			break
		}
	}
	if !errors.Is(full, dpop.ErrReplayFull) {
		t.Fatalf("a full replay cache answered %v, want ErrReplayFull", full)
	}
	if m.Len() > 16 {
		t.Fatalf("holds %d keys, bound 16", m.Len())
	}
}

func TestNonces(t *testing.T) {
	s := authntest.Must(authntest.NewSigner("ES256"))
	now := time.Now()
	clock := func() time.Time { return now }
	n := authntest.Must(dpop.NewNonces(nil, time.Minute, clock))
	other := authntest.Must(dpop.NewNonces(nil, time.Minute, clock))
	v := authntest.Must(dpop.New(dpop.Config{Nonces: n}))
	fresh := n.New()
	for _, c := range []struct {
		name, nonce string
		want        string
	}{
		{"ok", fresh, ""},
		{"fail/missing", "", dpop.CodeUseNonce},
		{"fail/other_key", other.New(), dpop.CodeUseNonce},
		{"fail/garbage", "abc", dpop.CodeUseNonce},
	} {
		t.Run(c.name, func(t *testing.T) {
			var opts []authntest.ProofOption
			if c.nonce != "" {
				opts = append(opts, authntest.ProofClaim("nonce", c.nonce))
			}
			r := request("GET", htu)
			r.Header.Set("DPoP", authntest.Must(s.DPoPProof("GET", htu, token, opts...)))
			err := v.Verify(r, token, s.JKT())
			var de *dpop.Error
			if c.want == "" && err != nil || c.want != "" && (!errors.As(err, &de) || de.Code != c.want) {
				t.Fatalf("Verify = %v, want %q", err, c.want)
			}
		})
	}
	t.Run("fail/expired", func(t *testing.T) {
		later := authntest.Must(dpop.NewNonces(n.Key(), time.Minute, func() time.Time { return now.Add(2 * time.Minute) }))
		if later.Valid(fresh) {
			t.Fatal("a nonce past its lifetime is valid")
		}
	})
}
