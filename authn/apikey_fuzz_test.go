package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzAPIKeyQuery: reading an API key from a raw query never panics, finds
// nothing when the name cannot be there, and agrees with net/url on queries
// net/url can parse unambiguously (no ';').
func FuzzAPIKeyQuery(f *testing.F) {
	for _, s := range []string{
		"api_key=abc", "a=1&api_key=x&api_key=y", "api%5Fkey=v", "api_key=%zz", "api_key", "&&&",
		"api_key=a+b%20c", "%zz=1&api_key=2", "api+key=1", "", "api_key=&b=", "=api_key",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		vals, err := queryValues(nil, raw, "api_key")
		if !strings.Contains(raw, "api") && !strings.Contains(raw, "%") && len(vals) > 0 {
			t.Fatalf("found %q in %q", vals, raw)
		}
		if err != nil || strings.Contains(raw, ";") {
			return
		}
		q, perr := url.ParseQuery(raw)
		if perr != nil {
			return
		}
		if len(q["api_key"]) != len(vals) {
			t.Fatalf("%q: got %q, net/url %q", raw, vals, q["api_key"])
		}
		for i := range vals {
			if vals[i] != q["api_key"][i] {
				t.Fatalf("%q: got %q, net/url %q", raw, vals, q["api_key"])
			}
		}
	})
}

// FuzzAPIKeyVerify: any key either verifies (only the known static key
// here), or is a Rejection — never a technical failure, never a panic.
func FuzzAPIKeyVerify(f *testing.F) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	vk, err := NewVerificationKey("k1", priv.Public(), "ES256")
	if err != nil {
		f.Fatal(err)
	}
	keys, err := NewStaticKeys(vk)
	if err != nil {
		f.Fatal(err)
	}
	static, err := NewStaticAPIKeys([]StaticAPIKey{{ID: "s", SHA256: HashAPIKey("known-static"), APIs: []APIRef{{Name: "*"}}}})
	if err != nil {
		f.Fatal(err)
	}
	a, err := NewAPIKey("k", APIKeyConfig{
		Location: APIKeyLocation{In: InHeader, Name: "X-Key"},
		Issuer:   &APIKeyIssuer{Name: "sts", Issuer: "https://sts.test/", Keys: keys},
		Static:   func() *StaticAPIKeys { return static },
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"known-static", "", "a.b.c", "a.b.c.d.e", "..", "opaque",
		"eyJhbGciOiJFUzI1NiIsInR5cCI6ImdhdGVob3VzZS1hcGlrZXkrand0In0.eyJpc3MiOiJodHRwczovL3N0cy50ZXN0LyJ9.c2ln",
		"eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		id, err := a.Verify(context.Background(), key)
		if err == nil {
			if key != "known-static" || id == nil {
				t.Fatalf("%q verified", key)
			}
			return
		}
		if errors.Is(err, ErrNoCredentials) {
			t.Fatalf("%q: ErrNoCredentials from Verify", key)
		}
		if _, ok := AsRejection(err); !ok {
			t.Fatalf("%q: technical failure %v", key, err)
		}
	})
}

// FuzzRemoveQueryParams: named parameters are gone, every other one is kept byte
// for byte, in order.
func FuzzRemoveQueryParams(f *testing.F) {
	f.Add("api_key=1&a=2&api%5Fkey=3&b", "api_key")
	f.Add("&&=&api_key&x=%zz", "api_key")
	f.Fuzz(func(t *testing.T, raw, name string) {
		out := RemoveQueryParams(raw, []string{name})
		var kept []string
		for _, p := range strings.Split(raw, "&") {
			k, _, _ := strings.Cut(p, "=")
			if dk, err := url.QueryUnescape(k); err == nil && dk == name || err != nil && k == name {
				continue
			}
			kept = append(kept, p)
		}
		if raw != "" && out != strings.Join(kept, "&") {
			t.Fatalf("RemoveQueryParams(%q, %q) = %q, want %q", raw, name, out, strings.Join(kept, "&"))
		}
	})
}
