package authn

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"sigs.k8s.io/yaml"
)

// MaxBcryptCost is the highest bcrypt cost a users file may use. Each step
// doubles the work: cost 10 is ~50–100 ms per check, 14 is over a second,
// and anything above would let a handful of requests pin every core.
const MaxBcryptCost = 14

// Users is an immutable store of HTTP Basic users: names, bcrypt hashes and
// optional scopes and groups. Reloading the users file builds a new Users
// (and the gateway a new Basic authenticator, whose cache starts empty).
type Users struct {
	name  string
	users map[string]*basicUser
	// dummy is a bcrypt hash of a random password at the most common cost
	// of the file: unknown users are compared against it so that the time
	// a check takes does not reveal whether a user exists.
	dummy []byte
}

type basicUser struct {
	hash   []byte
	scopes []string
	groups []string
}

// UsersMeta is the shape of the optional companion file (YAML or JSON) that
// gives users scopes and groups. Every user it names must exist in the users
// file; unknown keys are errors.
//
//	users:
//	  alice:
//	    scopes: [read:pets, write:pets]
//	    groups: [staff]
//	  bob:
//	    scopes: [read:pets]
type UsersMeta struct {
	Users map[string]UserMeta `json:"users"`
}

// UserMeta is one user's entry in the companion file.
type UserMeta struct {
	Scopes []string `json:"scopes,omitempty"`
	Groups []string `json:"groups,omitempty"`
}

// LoadUsers reads a users file in htpasswd format and, when metaPath is not
// empty, its companion file. name identifies the store in identities
// (Identity.Source) and logs. See ParseUsers for the format.
func LoadUsers(name, htpasswdPath, metaPath string) (*Users, error) {
	f, err := os.Open(htpasswdPath)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	defer f.Close()
	var meta []byte
	if metaPath != "" {
		if meta, err = os.ReadFile(metaPath); err != nil {
			return nil, fmt.Errorf("users meta file: %w", err)
		}
	}
	u, err := ParseUsers(name, f, meta)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", htpasswdPath, err)
	}
	return u, nil
}

// ParseUsers reads users in htpasswd format: one `name:hash` per line, blank
// lines and lines starting with '#' ignored. Only bcrypt hashes ($2y$, $2a$,
// $2b$; `htpasswd -B`) with a cost up to MaxBcryptCost are accepted: any other
// hash type (MD5 $apr1$, {SHA}, crypt, plain text) is an error naming the line
// number and user, never the hash. meta, if not empty, is the companion file
// (see UsersMeta).
func ParseUsers(name string, htpasswd io.Reader, meta []byte) (*Users, error) {
	u := &Users{name: name, users: map[string]*basicUser{}}
	costs := map[int]int{}
	sc := bufio.NewScanner(htpasswd)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		user, hash, ok := strings.Cut(text, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: expected name:hash", line)
		}
		if err := checkUsername(user); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if _, dup := u.users[user]; dup {
			return nil, fmt.Errorf("line %d: user %q is listed twice", line, user)
		}
		hash = strings.TrimSpace(hash)
		if !isBcryptHash(hash) {
			return nil, fmt.Errorf("line %d: user %q: unsupported password hash type: only bcrypt ($2y$, $2a$, $2b$) is accepted; create it with `htpasswd -B`", line, user)
		}
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return nil, fmt.Errorf("line %d: user %q: invalid bcrypt hash", line, user)
		}
		if cost > MaxBcryptCost {
			return nil, fmt.Errorf("line %d: user %q: bcrypt cost %d is above the maximum %d", line, user, cost, MaxBcryptCost)
		}
		costs[cost]++
		u.users[user] = &basicUser{hash: []byte(hash)}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	if len(bytes.TrimSpace(meta)) > 0 {
		if err := u.applyMeta(meta); err != nil {
			return nil, err
		}
	}
	dummy, err := dummyHash(commonCost(costs))
	if err != nil {
		return nil, err
	}
	u.dummy = dummy
	return u, nil
}

func (u *Users) applyMeta(data []byte) error {
	var m UsersMeta
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		return fmt.Errorf("users meta file: %w", err)
	}
	for name, um := range m.Users {
		bu, ok := u.users[name]
		if !ok {
			return fmt.Errorf("users meta file: user %q is not in the users file", name)
		}
		for _, list := range [][]string{um.Scopes, um.Groups} {
			for _, s := range list {
				if s == "" || strings.ContainsAny(s, " \t\r\n") {
					return fmt.Errorf("users meta file: user %q: scopes and groups must be non-empty and without spaces, got %q", name, s)
				}
			}
		}
		bu.scopes = SortedUnique(um.Scopes)
		bu.groups = SortedUnique(um.Groups)
	}
	return nil
}

// Name is the store's name (Identity.Source of its users).
func (u *Users) Name() string { return u.name }

// Len is the number of users.
func (u *Users) Len() int { return len(u.users) }

// Usernames returns the user names, sorted (for `gatehouse check`).
func (u *Users) Usernames() []string {
	out := make([]string, 0, len(u.users))
	for n := range u.users {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func checkUsername(user string) error {
	switch {
	case user == "":
		return errors.New("empty user name")
	case !utf8.ValidString(user):
		return errors.New("user name is not valid UTF-8")
	case hasCTL(user):
		return errors.New("user name contains control characters")
	}
	return nil
}

func isBcryptHash(h string) bool {
	return strings.HasPrefix(h, "$2y$") || strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$")
}

// commonCost is the most frequent cost (the higher one on a tie), or
// bcrypt.DefaultCost for an empty file.
func commonCost(costs map[int]int) int {
	best, n := bcrypt.DefaultCost, 0
	for c, k := range costs {
		if k > n || (k == n && c > best) {
			best, n = c, k
		}
	}
	return best
}

func dummyHash(cost int) ([]byte, error) {
	pw := make([]byte, 24)
	if _, err := rand.Read(pw); err != nil {
		return nil, err
	}
	return bcrypt.GenerateFromPassword(pw, cost)
}

// hasCTL reports whether s contains an ASCII control character (RFC 5234
// CTL: %x00-1F / %x7F).
func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}
