package authn

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Basic authenticates HTTP Basic credentials (RFC 7617) against a Users
// store.
//
// Outcomes: no Authorization header, or one for another scheme:
// ErrNoCredentials. Two Authorization headers: ambiguous_credentials. A Basic
// value that is too long (MaxBasicHeaderSize), not a token68, not canonical
// base64, without a colon, not UTF-8, or with control characters: malformed.
// Unknown user or wrong password: invalid_credentials, after one bcrypt
// comparison either way (against a dummy hash of the file's usual cost for
// unknown users), so timing does not tell which users exist.
//
// Successful checks are cached (WithCacheTTL, default 5 min; 0 disables) under
// SHA-256(random per-authenticator salt ‖ user ":" password): a hit skips
// bcrypt. Failures are never cached. The cache belongs to this authenticator,
// which belongs to one Users value; a reloaded users file means a new
// authenticator and an empty cache.
type Basic struct {
	scheme   string
	users    *Users
	ids      map[string]*Identity // prebuilt, one per user
	cache    *Cache[*Identity]
	cacheTTL time.Duration
	now      func() time.Time
	salt     [32]byte
	slots    chan struct{}
	realm    string
}

var _ Authenticator = (*Basic)(nil)

// NewBasic returns the Basic authenticator of the OpenAPI security scheme
// named scheme. Options used: WithCacheTTL, WithCacheSize, WithClock,
// WithRealm, WithBcryptConcurrency.
func NewBasic(scheme string, users *Users, opts ...Option) (*Basic, error) {
	if users == nil {
		return nil, errors.New("authn: basic scheme " + scheme + " has no users")
	}
	o := buildOptions(opts)
	b := &Basic{
		scheme:   scheme,
		users:    users,
		ids:      make(map[string]*Identity, len(users.users)),
		cacheTTL: o.cacheTTL,
		now:      o.now,
		slots:    make(chan struct{}, o.bcryptSlots),
		realm:    o.realm,
	}
	if b.realm == "" {
		b.realm = scheme
	}
	if _, err := rand.Read(b.salt[:]); err != nil {
		return nil, fmt.Errorf("authn: basic: %w", err)
	}
	if b.cacheTTL > 0 {
		b.cache = NewCache[*Identity](o.cacheSize, o.now)
	}
	for name, u := range users.users {
		b.ids[name] = &Identity{
			Scheme:       scheme,
			Type:         TypeBasic,
			Subject:      name,
			Source:       users.name,
			Scopes:       u.scopes,
			Groups:       u.groups,
			CredentialID: CredentialID(name),
		}
	}
	return b, nil
}

// MaxPasswordBytes is the longest password bcrypt reads in full; longer
// ones are refused (invalid_credentials), never truncated.
const MaxPasswordBytes = 72

// Scheme is the OpenAPI securityScheme name.
func (b *Basic) Scheme() string { return b.scheme }

// Challenge is the WWW-Authenticate value for this scheme.
func (b *Basic) Challenge() string { return BasicChallenge(b.realm) }

// ChallengeScheme is the auth-scheme of the challenge: "Basic".
func (b *Basic) ChallengeScheme() string { return "Basic" }

// Authenticate verifies the request's Basic credentials.
func (b *Basic) Authenticate(r *http.Request) (*Identity, error) {
	cred, err := authorizationFor(r, b.scheme, "Basic", MaxBasicHeaderSize)
	if err != nil {
		return nil, err
	}
	user, pass, err := DecodeBasicCredentials(cred)
	if err != nil {
		return nil, Reject(b.scheme, ReasonMalformed, err.Error(), nil)
	}
	var key CacheKey
	if b.cache != nil {
		key = b.cacheKey(user, pass)
		if id, ok := b.cache.Get(key); ok {
			return id, nil
		}
	}

	select {
	case b.slots <- struct{}{}:
	case <-r.Context().Done():
		return nil, fmt.Errorf("authn: basic: waiting for a password check: %w", r.Context().Err())
	}
	u := b.users.users[user]
	hash := b.users.dummy
	// bcrypt reads only the first 72 bytes of a password: a longer one
	// would match every password sharing them. It is refused, after the
	// same bcrypt work as any failure (no timing difference).
	tooLong := len(pass) > MaxPasswordBytes
	if u != nil && !tooLong {
		hash = u.hash
	}
	cmpErr := bcrypt.CompareHashAndPassword(hash, []byte(pass[:min(len(pass), MaxPasswordBytes)]))
	<-b.slots

	if u == nil || tooLong || cmpErr != nil {
		return nil, Reject(b.scheme, ReasonInvalidCredentials, "unknown user or wrong password", nil)
	}
	id := b.ids[user]
	if b.cache != nil {
		b.cache.Put(key, id, b.now().Add(b.cacheTTL))
	}
	return id, nil
}

func (b *Basic) cacheKey(user, pass string) CacheKey {
	h := sha256.New()
	h.Write(b.salt[:])
	h.Write([]byte(user))
	h.Write([]byte{':'})
	h.Write([]byte(pass))
	var k CacheKey
	h.Sum(k[:0])
	return k
}

// DecodeBasicCredentials decodes the token68 of a Basic Authorization value
// into user-id and password (RFC 7617 §2): canonical, padded standard base64
// of "user-id:password", split at the first colon, both valid UTF-8 without
// control characters. Errors never quote the input.
func DecodeBasicCredentials(token68 string) (user, pass string, err error) {
	// Strict() still skips CR and LF inside the input (encoding/base64
	// documents it), which would make "Og\n==" another spelling of "Og==";
	// found by FuzzBasicCredentials. Only one encoding of a pair is accepted.
	if strings.ContainsAny(token68, "\r\n") {
		return "", "", errors.New("credentials are not valid base64")
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(token68)
	if err != nil {
		return "", "", errors.New("credentials are not valid base64")
	}
	s := string(raw)
	user, pass, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", errors.New("credentials have no colon")
	}
	if !utf8.ValidString(s) {
		return "", "", errors.New("credentials are not UTF-8")
	}
	if hasCTL(s) {
		return "", "", errors.New("credentials contain control characters")
	}
	return user, pass, nil
}

// BasicChallenge returns the RFC 7617 challenge for realm:
// `Basic realm="<realm>", charset="UTF-8"`, with `"` and `\` escaped and
// control characters removed from the realm.
func BasicChallenge(realm string) string {
	var sb strings.Builder
	sb.WriteString(`Basic realm="`)
	writeQuoted(&sb, realm)
	sb.WriteString(`", charset="UTF-8"`)
	return sb.String()
}

// writeQuoted writes s as the inside of an RFC 9110 quoted-string.
func writeQuoted(sb *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			// dropped: a header value never carries control characters
		default:
			sb.WriteByte(c)
		}
	}
}
