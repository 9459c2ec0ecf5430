package authn

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// htpasswdLine returns "name:<bcrypt hash>" at cost.
func htpasswdLine(t testing.TB, name, pw string, cost int) string {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		t.Fatal(err)
	}
	return name + ":" + string(h) + "\n"
}

func TestUsersDummyHashCost(t *testing.T) {
	file := htpasswdLine(t, "a", "x", 5) + htpasswdLine(t, "b", "x", 6) + htpasswdLine(t, "c", "x", 6) + htpasswdLine(t, "d", "x", 4)
	u, err := ParseUsers("t", strings.NewReader(file), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Unknown users are compared against a hash of the file's usual cost.
	if cost, err := bcrypt.Cost(u.dummy); err != nil || cost != 6 {
		t.Fatalf("dummy cost = %d, %v; want 6", cost, err)
	}
	empty, err := ParseUsers("t", strings.NewReader("# nobody\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cost, _ := bcrypt.Cost(empty.dummy); cost != bcrypt.DefaultCost {
		t.Fatalf("empty file dummy cost = %d", cost)
	}
}

func TestBasicCachesSuccessesOnly(t *testing.T) {
	u, err := ParseUsers("t", strings.NewReader(htpasswdLine(t, "alice", "pw", 4)), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBasic("basicAuth", u)
	if err != nil {
		t.Fatal(err)
	}
	auth := func(user, pw string) error {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pw)))
		_, err := b.Authenticate(r)
		return err
	}
	for _, c := range [][2]string{{"alice", "bad"}, {"mallory", "pw"}} {
		if auth(c[0], c[1]) == nil {
			t.Fatalf("%s accepted", c)
		}
	}
	if n := b.cache.Len(); n != 0 {
		t.Fatalf("failures cached: %d entries", n)
	}
	if err := auth("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	if n := b.cache.Len(); n != 1 {
		t.Fatalf("cache has %d entries, want 1", n)
	}
	// The key is salted per authenticator: another one keys differently.
	b2, _ := NewBasic("basicAuth", u)
	if b.cacheKey("alice", "pw") == b2.cacheKey("alice", "pw") {
		t.Fatal("cache keys are not salted")
	}
	if hits, _ := b.cache.Stats(); hits != 0 {
		t.Fatalf("hits = %d", hits)
	}
	if err := auth("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	if hits, _ := b.cache.Stats(); hits != 1 {
		t.Fatalf("hits = %d, want 1", hits)
	}
}

func FuzzBasicCredentials(f *testing.F) {
	for _, s := range []string{
		base64.StdEncoding.EncodeToString([]byte("alice:correct horse")),
		base64.StdEncoding.EncodeToString([]byte("bob:pa:ss")),
		base64.StdEncoding.EncodeToString([]byte(":")),
		base64.StdEncoding.EncodeToString([]byte("alice")),
		base64.StdEncoding.EncodeToString([]byte("a\x00:b")),
		base64.StdEncoding.EncodeToString([]byte("\xff:\xfe")),
		"YWxpY2U6eA",
		"!!!",
		"",
		"====",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		user, pass, err := DecodeBasicCredentials(s)
		if err != nil {
			if user != "" || pass != "" {
				t.Fatal("values returned with an error")
			}
			return
		}
		if strings.Contains(user, ":") {
			t.Fatalf("user %q contains a colon", user)
		}
		if hasCTL(user) || hasCTL(pass) {
			t.Fatalf("control characters accepted: %q %q", user, pass)
		}
		// Canonical round trip: only one encoding of a pair is accepted.
		if got := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)); got != s {
			t.Fatalf("round trip: %q -> (%q, %q) -> %q", s, user, pass, got)
		}
	})
}
