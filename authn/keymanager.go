package authn

import (
	"context"
	"errors"
	"sync"
	"time"
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
//   - (*TokenInfo, nil): the token is active;
//   - (nil, *Rejection): it is not (inactive, expired, wrong iss or aud);
//     the Rejection's Scheme is empty, the bearer router fills it in;
//   - any other error: the key manager could not answer (fail closed, 503).
//
// A KeyManager may serve several schemes; it is safe for concurrent use.
type KeyManager interface {
	// Name is the configured key manager name (Identity.Source).
	Name() string
	Validate(ctx context.Context, token string) (*TokenInfo, error)
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

// TokenInfo is what a key manager knows about an active token. It is
// immutable once returned: caches hand it to many requests. The identity
// document of each scheme is built once (Identity).
type TokenInfo struct {
	Source      string // the key manager's name
	Subject     string
	Issuer      string
	ClientID    string
	Application string
	Scopes      []string
	Audience    []string
	TokenID     string
	IssuedAt    time.Time
	NotBefore   time.Time
	ExpiresAt   time.Time
	// CredentialID is the log-safe id of the token (CredentialID).
	CredentialID string
	// Claims are the key manager's answer, as JSON values (json.Number for
	// numbers). Never the token itself.
	Claims map[string]any
	// SubscriptionValidation: the policy checks Application's
	// subscriptions (the key manager's configuration says so).
	SubscriptionValidation bool
	// Confirmation is the cnf.x5t#S256 thumbprint the token is bound to.
	Confirmation string

	ids sync.Map // scheme → *Identity
}

// Identity returns the identity document of the token for scheme, built
// once per scheme (so its policy value is built once too).
func (ti *TokenInfo) Identity(scheme string) *Identity {
	if v, ok := ti.ids.Load(scheme); ok {
		return v.(*Identity)
	}
	id := &Identity{
		Scheme:       scheme,
		Type:         TypeOpaqueToken,
		Subject:      ti.Subject,
		Issuer:       ti.Issuer,
		Source:       ti.Source,
		ClientID:     ti.ClientID,
		Application:  ti.Application,
		Scopes:       ti.Scopes,
		Audience:     ti.Audience,
		TokenID:      ti.TokenID,
		IssuedAt:     ti.IssuedAt,
		NotBefore:    ti.NotBefore,
		ExpiresAt:    ti.ExpiresAt,
		CredentialID: ti.CredentialID,
		Claims:       ti.Claims,
		Confirmation: ti.Confirmation,

		SubscriptionValidation: ti.SubscriptionValidation,
	}
	v, _ := ti.ids.LoadOrStore(scheme, id)
	return v.(*Identity)
}
