package authn

import (
	"testing"
	"time"
)

func TestCacheInterval(t *testing.T) {
	const def, lo, hi = 10 * time.Minute, 5 * time.Minute, 10 * time.Minute
	for _, tc := range []struct {
		name, cc string
		hi       time.Duration
		want     time.Duration
	}{
		{name: "none", cc: "", want: def},
		{name: "max-age-within", cc: "public, max-age=420", want: 7 * time.Minute},
		{name: "max-age-below-min", cc: "max-age=60", want: lo},
		{name: "max-age-zero", cc: "max-age=0", want: lo},
		{name: "max-age-above-default-max", cc: "max-age=86400", want: hi},
		{name: "max-age-with-raised-max", cc: "max-age=3600", hi: 24 * time.Hour, want: time.Hour},
		{name: "max-age-above-24h", cc: "max-age=999999999999", hi: 24 * time.Hour, want: 24 * time.Hour},
		{name: "no-store", cc: "no-store", want: lo},
		{name: "no-cache", cc: "no-cache, max-age=600", want: lo},
		{name: "garbage", cc: "max-age=abc", want: def},
		{name: "unrelated", cc: "public", want: def},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := hi
			if tc.hi != 0 {
				h = tc.hi
			}
			if got := cacheInterval(tc.cc, def, lo, h); got != tc.want {
				t.Fatalf("cacheInterval(%q) = %s, want %s", tc.cc, got, tc.want)
			}
		})
	}
}

func TestParseDiscovery(t *testing.T) {
	const iss = "https://idp.example/"
	for _, tc := range []struct {
		name, doc string
		ok        bool
		allowed   []string
	}{
		{"ok/same-host", `{"issuer":"https://idp.example/","jwks_uri":"https://idp.example/keys"}`, true, nil},
		{"ok/same-host-explicit-port", `{"issuer":"https://idp.example/","jwks_uri":"https://IDP.example:443/keys"}`, true, nil},
		{"ok/other-host-allowed", `{"issuer":"https://idp.example/","jwks_uri":"https://keys.example/jwks"}`, true, []string{"keys.example"}},
		{"ok/other-host-allowed-with-port", `{"issuer":"https://idp.example/","jwks_uri":"https://keys.example:8443/jwks"}`, true, []string{"keys.example:8443"}},
		{"fail/other-host", `{"issuer":"https://idp.example/","jwks_uri":"https://keys.example/jwks"}`, false, nil},
		{"fail/other-host-not-listed", `{"issuer":"https://idp.example/","jwks_uri":"https://attacker.example/jwks"}`, false, []string{"keys.example"}},
		{"fail/same-host-other-port", `{"issuer":"https://idp.example/","jwks_uri":"https://idp.example:8443/keys"}`, false, nil},
		{"fail/listed-port-differs", `{"issuer":"https://idp.example/","jwks_uri":"https://keys.example:9443/jwks"}`, false, []string{"keys.example:8443"}},
		{"fail/issuer-differs", `{"issuer":"https://idp.example","jwks_uri":"https://idp.example/keys"}`, false, nil},
		{"fail/no-issuer", `{"jwks_uri":"https://idp.example/keys"}`, false, nil},
		{"fail/issuer-not-string", `{"issuer":1,"jwks_uri":"https://idp.example/keys"}`, false, nil},
		{"fail/no-jwks-uri", `{"issuer":"https://idp.example/"}`, false, nil},
		{"fail/jwks-uri-plain-http", `{"issuer":"https://idp.example/","jwks_uri":"http://idp.example/keys"}`, false, nil},
		{"fail/jwks-uri-file", `{"issuer":"https://idp.example/","jwks_uri":"file:///etc/passwd"}`, false, nil},
		{"fail/not-json", `<html>`, false, nil},
		{"fail/array", `[]`, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseDiscovery([]byte(tc.doc), iss, false, tc.allowed)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// The remote key set, the discovery document and the Cache-Control header
// come from the network: none of their parsers may panic.
func FuzzParseRemoteJWKS(f *testing.F) {
	for _, s := range []string{
		`{"keys":[]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}]}`,
		`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`,
		`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","use":"enc"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		`{"keys":null}`,
		`[]`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ks, err := parseRemoteJWKS(body, nil)
		if err == nil && (len(ks.keys) == 0 || len(ks.keys) > MaxJWKSKeys) {
			t.Fatalf("accepted a set of %d keys", len(ks.keys))
		}
	})
}

func FuzzParseDiscovery(f *testing.F) {
	f.Add([]byte(`{"issuer":"https://idp.example/","jwks_uri":"https://idp.example/keys"}`))
	f.Add([]byte(`{"issuer":"https://idp.example/","jwks_uri":"http://127.0.0.1:1/k"}`))
	f.Add([]byte(`{"issuer":"https://idp.example/","jwks_uri":"https://u:p@x/k#f"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := parseDiscovery(body, "https://idp.example/", false, nil)
		if err == nil && u.Scheme != "https" && !isLoopbackHost(u.Hostname()) {
			t.Fatalf("accepted jwks_uri %s", u)
		}
	})
}

func FuzzCacheInterval(f *testing.F) {
	for _, s := range []string{"max-age=600", "no-store", `private="x", max-age=1`, "max-age=-1", "max-age=18446744073709551616", ",,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cc string) {
		if d := cacheInterval(cc, 10*time.Minute, 5*time.Minute, 24*time.Hour); d < 5*time.Minute || d > 24*time.Hour {
			t.Fatalf("cacheInterval(%q) = %s", cc, d)
		}
	})
}
