package authn_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

const usersMeta = `
users:
  alice:
    scopes: [write:pets, read:pets, read:pets]
    groups: [staff]
`

func newBasicUsers(t *testing.T) *authn.Users {
	t.Helper()
	file := authntest.Must(authntest.Htpasswd(map[string]string{
		"alice": "correct horse",
		"bob":   "pa:ss:word",
		"émile": "çava",
	}, 0))
	dir := t.TempDir()
	hp, mp := filepath.Join(dir, "users.htpasswd"), filepath.Join(dir, "users.yaml")
	if err := os.WriteFile(hp, file, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mp, []byte(usersMeta), 0o600); err != nil {
		t.Fatal(err)
	}
	users, err := authn.LoadUsers("staff-users", hp, mp)
	if err != nil {
		t.Fatalf("LoadUsers: %v", err)
	}
	return users
}

func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestBasic(t *testing.T) {
	users := newBasicUsers(t)
	b, err := authn.NewBasic("basicAuth", users)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		headers []string
		subject string
		wantErr error
		reason  authn.Reason
	}{
		{name: "ok/alice", headers: []string{basicHeader("alice", "correct horse")}, subject: "alice"},
		{name: "ok/scheme-case-insensitive", headers: []string{"bAsIc " + base64.StdEncoding.EncodeToString([]byte("alice:correct horse"))}, subject: "alice"},
		{name: "ok/several-spaces", headers: []string{"Basic   " + base64.StdEncoding.EncodeToString([]byte("alice:correct horse"))}, subject: "alice"},
		{name: "ok/colon-in-password", headers: []string{basicHeader("bob", "pa:ss:word")}, subject: "bob"},
		{name: "ok/utf8", headers: []string{basicHeader("émile", "çava")}, subject: "émile"},
		{name: "none/no-header", wantErr: authn.ErrNoCredentials},
		{name: "none/bearer", headers: []string{"Bearer abc.def.ghi"}, wantErr: authn.ErrNoCredentials},
		{name: "none/digest", headers: []string{`Digest username="alice"`}, wantErr: authn.ErrNoCredentials},
		{name: "fail/wrong-password", headers: []string{basicHeader("alice", "wrong")}, reason: authn.ReasonInvalidCredentials},
		{name: "fail/unknown-user", headers: []string{basicHeader("mallory", "correct horse")}, reason: authn.ReasonInvalidCredentials},
		{name: "fail/empty-user", headers: []string{basicHeader("", "x")}, reason: authn.ReasonInvalidCredentials},
		{name: "fail/password-of-other-user", headers: []string{basicHeader("bob", "correct horse")}, reason: authn.ReasonInvalidCredentials},
		{name: "fail/two-headers", headers: []string{basicHeader("alice", "correct horse"), basicHeader("bob", "pa:ss:word")}, reason: authn.ReasonAmbiguousCredentials},
		{name: "fail/scheme-only", headers: []string{"Basic"}, reason: authn.ReasonMalformed},
		{name: "fail/bad-base64", headers: []string{"Basic !!!"}, reason: authn.ReasonMalformed},
		{name: "fail/base64-not-canonical", headers: []string{"Basic YWxpY2U6eA"}, reason: authn.ReasonMalformed},
		{name: "fail/no-colon", headers: []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("alice"))}, reason: authn.ReasonMalformed},
		{name: "fail/control-char-user", headers: []string{basicHeader("ali\x00ce", "correct horse")}, reason: authn.ReasonMalformed},
		{name: "fail/control-char-password", headers: []string{basicHeader("alice", "correct\nhorse")}, reason: authn.ReasonMalformed},
		{name: "fail/not-utf8", headers: []string{basicHeader("alice", "\xff\xfe")}, reason: authn.ReasonMalformed},
		{name: "fail/tab-separator", headers: []string{"Basic\t" + base64.StdEncoding.EncodeToString([]byte("alice:correct horse"))}, reason: authn.ReasonMalformed},
		{name: "fail/too-long", headers: []string{basicHeader("alice", strings.Repeat("x", 5000))}, reason: authn.ReasonMalformed},
		{name: "fail/two-tokens", headers: []string{"Basic abc def"}, reason: authn.ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/pets", nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			id, err := b.Authenticate(r)
			switch {
			case tc.reason != "":
				rej, ok := authn.AsRejection(err)
				if !ok || rej.Reason != tc.reason || rej.Scheme != "basicAuth" {
					t.Fatalf("err = %v, want rejection %s", err, tc.reason)
				}
				if id != nil {
					t.Fatal("identity returned with a rejection")
				}
				for _, h := range tc.headers {
					if strings.Contains(err.Error(), strings.TrimPrefix(h, "Basic ")) {
						t.Fatalf("rejection quotes the credentials: %v", err)
					}
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			default:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if id.Subject != tc.subject || id.Type != authn.TypeBasic || id.Scheme != "basicAuth" || id.Source != "staff-users" {
					t.Fatalf("identity = %+v", id)
				}
				if id.CredentialID != authn.CredentialID(tc.subject) {
					t.Fatalf("credential_id = %q, want CredentialID(username)", id.CredentialID)
				}
			}
		})
	}
}

func TestBasicIdentityScopesGroups(t *testing.T) {
	b, err := authn.NewBasic("basicAuth", newBasicUsers(t))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", basicHeader("alice", "correct horse"))
	id, err := b.Authenticate(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(id.Scopes, " "); got != "read:pets write:pets" {
		t.Errorf("scopes = %q", got)
	}
	if got := strings.Join(id.Groups, " "); got != "staff" {
		t.Errorf("groups = %q", got)
	}
	// The same identity (with its AST built once) is served from cache.
	id2, err := b.Authenticate(r)
	if err != nil || id2 != id {
		t.Fatalf("second call: %p %v, want the cached %p", id2, err, id)
	}
	// bob has no meta entry: no scopes, no groups.
	r.Header.Set("Authorization", basicHeader("bob", "pa:ss:word"))
	id, err = b.Authenticate(r)
	if err != nil || len(id.Scopes) != 0 || len(id.Groups) != 0 {
		t.Fatalf("bob: %+v, %v", id, err)
	}
	if m := id.Map(); m["scopes"] == nil {
		t.Error("scopes must be present (empty) in the identity document")
	}
}

func TestParseUsersErrors(t *testing.T) {
	good := string(authntest.Must(authntest.Htpasswd(map[string]string{"alice": "pw"}, 0)))
	const md5 = "$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/"
	tests := []struct {
		name     string
		file     string
		meta     string
		wantErr  string
		mustNot  string
		wantUser []string
	}{
		{name: "ok/comments-and-blank", file: "# users\n\n" + good + "\n", wantUser: []string{"alice"}},
		{name: "ok/crlf", file: strings.ReplaceAll(good, "\n", "\r\n"), wantUser: []string{"alice"}},
		{name: "ok/2a-and-2b", file: strings.Replace(good, "$2y$", "$2a$", 1) + strings.Replace(strings.Replace(good, "alice", "bob", 1), "$2y$", "$2b$", 1), wantUser: []string{"alice", "bob"}},
		{name: "fail/md5", file: good + "bob:" + md5 + "\n", wantErr: "line 2: user \"bob\": unsupported password hash type", mustNot: md5},
		{name: "fail/sha1", file: "carol:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", wantErr: "line 1: user \"carol\": unsupported", mustNot: "W6ph5Mm5"},
		{name: "fail/plain", file: "dave:secret\n", wantErr: "line 1:", mustNot: "secret"},
		{name: "fail/crypt", file: "erin:rl0.mSt6sHvq.\n", wantErr: "line 1:", mustNot: "rl0.mSt6sHvq"},
		{name: "fail/bad-bcrypt", file: "frank:$2y$10$tooshort\n", wantErr: "line 1: user \"frank\": invalid bcrypt hash", mustNot: "tooshort"},
		{name: "fail/cost-too-high", file: "gina:$2y$15$" + strings.Repeat("a", 53) + "\n", wantErr: "bcrypt cost 15 is above the maximum 14"},
		{name: "fail/no-colon", file: "hank\n", wantErr: "line 1: expected name:hash"},
		{name: "fail/duplicate", file: good + good, wantErr: "line 2: user \"alice\" is listed twice"},
		{name: "fail/control-in-name", file: "a\x01b:$2y$04$" + strings.Repeat("a", 53) + "\n", wantErr: "line 1: user name contains control characters"},
		{name: "fail/meta-unknown-user", file: good, meta: "users: {zed: {scopes: [a]}}", wantErr: `user "zed" is not in the users file`},
		{name: "fail/meta-unknown-key", file: good, meta: "users: {alice: {roles: [a]}}", wantErr: "users meta file"},
		{name: "fail/meta-bad-scope", file: good, meta: `users: {alice: {scopes: ["a b"]}}`, wantErr: "without spaces"},
		{name: "ok/meta-json", file: good, meta: `{"users": {"alice": {"scopes": ["x"]}}}`, wantUser: []string{"alice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := authn.ParseUsers("test", strings.NewReader(tc.file), []byte(tc.meta))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if tc.mustNot != "" && strings.Contains(err.Error(), tc.mustNot) {
					t.Fatalf("error reveals the hash: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(u.Usernames(), ","); got != strings.Join(tc.wantUser, ",") {
				t.Fatalf("users = %s", got)
			}
		})
	}
}

func TestLoadUsersMissingFile(t *testing.T) {
	if _, err := authn.LoadUsers("x", filepath.Join(t.TempDir(), "nope"), ""); err == nil {
		t.Fatal("want an error")
	}
}

func TestBasicChallenge(t *testing.T) {
	for realm, want := range map[string]string{
		"pets":          `Basic realm="pets", charset="UTF-8"`,
		`say "hi"\`:     `Basic realm="say \"hi\"\\", charset="UTF-8"`,
		"a\r\nSet: x":   `Basic realm="aSet: x", charset="UTF-8"`,
		"":              `Basic realm="", charset="UTF-8"`,
		"Zoë's garden ": `Basic realm="Zoë's garden ", charset="UTF-8"`,
	} {
		if got := authn.BasicChallenge(realm); got != want {
			t.Errorf("BasicChallenge(%q) = %s, want %s", realm, got, want)
		}
	}
	b, _ := authn.NewBasic("basicAuth", newBasicUsers(t), authn.WithRealm("pets"))
	if got := b.Challenge(); got != `Basic realm="pets", charset="UTF-8"` {
		t.Errorf("Challenge() = %s", got)
	}
}

func TestBasicCacheDisabled(t *testing.T) {
	b, err := authn.NewBasic("basicAuth", newBasicUsers(t), authn.WithCacheTTL(0))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", basicHeader("alice", "correct horse"))
	for range 2 {
		if _, err := b.Authenticate(r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewBasicNilUsers(t *testing.T) {
	if _, err := authn.NewBasic("x", nil); err == nil {
		t.Fatal("want an error")
	}
}

func TestBasicCanceledWhileQueued(t *testing.T) {
	b, err := authn.NewBasic("basicAuth", newBasicUsers(t), authn.WithBcryptConcurrency(1), authn.WithCacheTTL(0))
	if err != nil {
		t.Fatal(err)
	}
	// Not a timing test: a canceled request either finishes its check or
	// gives up waiting; it never gets an identity for a wrong password.
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", basicHeader("alice", "nope"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.Authenticate(r.WithContext(ctx))
	if err == nil {
		t.Fatal("want an error")
	}
	if bytes.Contains([]byte(err.Error()), []byte("nope")) {
		t.Fatal("error quotes the password")
	}
}
