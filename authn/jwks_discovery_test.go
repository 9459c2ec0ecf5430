package authn_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

// A discovery document may only send the gateway to the issuer's own host
// for keys, unless the operator lists the other host: the key server
// (another loopback port, so another host:port) is fetched only then.
func TestDiscoveryJWKSHost(t *testing.T) {
	keys := authntest.NewIssuer(t)
	var disco *httptest.Server
	disco = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": disco.URL, "jwks_uri": keys.JWKSURL()})
	}))
	t.Cleanup(disco.Close)
	ku, err := url.Parse(keys.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	keysHost := ku.Host

	for _, tc := range []struct {
		name     string
		allowed  []string
		want     string // "" = fetched
		fetches0 bool   // the key server was never asked
	}{
		{"fail/other-host-not-allowed", nil, "not the issuer's", true},
		{"fail/another-host-allowed", []string{"keys.example"}, "not the issuer's", true},
		{"ok/host-port-allowed", []string{keysHost}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys.ResetCounts()
			r, err := authn.NewRemoteJWKS(authn.RemoteJWKSConfig{
				Name: "corp", Issuer: disco.URL, DiscoveryURL: disco.URL + "/.well-known/openid-configuration",
				RootCAs: keys.CertPool(), AllowedJWKSHosts: tc.allowed,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = r.Close() })
			err = r.Refresh(context.Background())
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refresh: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("refresh: %v, want an error containing %q", err, tc.want)
			}
			if got := keys.JWKSFetches(); (got == 0) != tc.fetches0 {
				t.Fatalf("key server fetched %d times", got)
			}
		})
	}
}
