package authn

import (
	"context"
	"errors"
)

// KeyManager validates bearer tokens that no JWT issuer of a scheme
// verifies: opaque tokens, and (when a scheme asks for it) JWTs of issuers it
// does not know. Two kinds exist: an RFC 7662 introspection client
// (Introspection, any standards-compliant authorization server) and the
// gateway's own key manager (package authn/keymanager), which answers in
// process.
//
// Validate has the outcomes of an authenticator, minus "not presented":
//
//   - (*Identity, nil): the token is active. The identity's Scheme is
//     empty (a key manager may serve several schemes); the bearer router
//     takes it with Identity.WithScheme. Type is TypeOpaqueToken, Source
//     the key manager's name.
//   - (nil, *Rejection): it is not (inactive, expired, wrong iss or aud);
//     the Rejection's Scheme is empty, the bearer router fills it in;
//   - any other error: the key manager could not answer (fail closed, 503).
//
// A KeyManager may serve several schemes; it is safe for concurrent use.
type KeyManager interface {
	// Name is the configured key manager name (Identity.Source).
	Name() string
	Validate(ctx context.Context, token string) (*Identity, error)
}

// TokenRouter is a KeyManager that recognizes its own tokens (a token
// prefix or pattern), so a bearer scheme sends it only those: a token of
// one trust domain never reaches another's key manager. routed is false
// when the key manager has no routing configured.
type TokenRouter interface {
	Recognizes(token string) (routed, mine bool)
}

// Errors of key managers that could not answer. Both are technical failures:
// the gateway answers 503 and never blames the client.
var (
	// ErrKeyManagerUnavailable wraps every failure to get an answer:
	// timeouts, resets, 5xx, redirects, bodies that are not an RFC 7662
	// answer, an open circuit breaker.
	ErrKeyManagerUnavailable = errors.New("authn: key manager unavailable")
	// ErrKeyManagerCredentials: the key manager refused the gateway's own
	// credentials (HTTP 401/403). A configuration problem of the gateway,
	// never the client's fault.
	ErrKeyManagerCredentials = errors.New("authn: key manager refused the gateway's credentials")
)
