package authn

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse/authn/dpop"
	"github.com/gatehouse/gatehouse/authn/jose"
)

// Bearer authenticates the bearer tokens of one OpenAPI scheme (http bearer,
// oauth2, openIdConnect) by routing each token to what can verify it: JWTs
// to the scheme's JWT verifier (its issuers), opaque tokens to its key
// managers, in their configured order.
//
//   - A JWT goes to the issuers. With IntrospectJWTs, a JWT none of them
//     knows (unknown_issuer, or a scheme without issuers) goes to the key
//     managers too; otherwise it is rejected as the JWT verifier says.
//   - A scheme without issuers and without IntrospectJWTs does not take a
//     JWT: ErrJWTNotVerified, "not presented" (another scheme of the
//     operation may verify it).
//   - Any other token68 (authn.ErrNotJWT) goes to the key managers. A scheme
//     without key managers does not take it: ErrNotJWT, "not presented".
//   - A token the scheme does verify and rejects is a rejection, never "not
//     presented": it does not fall through to another scheme.
//   - An opaque token goes to exactly one key manager when one recognizes
//     it (token_prefix / token_pattern, TokenRouter); otherwise to the key
//     managers without routing, never to one whose routing it misses.
//   - Key managers are asked in order until one says active. If none does
//     and one of them could not answer, the request fails closed (the token
//     might be active there); otherwise the first rejection is returned.
//   - A verified token's binding is then checked (confirmation.go): a
//     DPoP-bound token (cnf.jkt) only as `Authorization: DPoP` with a
//     valid proof of this request, checked every time (never cached); a
//     scheme with dpop required takes nothing else.
//
// Outcomes keep the Authenticator contract: errors.Is(err,
// ErrNoCredentials) for "not presented", *Rejection for invalid, anything
// else a technical failure.
type Bearer struct {
	scheme         string
	jwt            *JWT // nil: no issuers
	kms            []KeyManager
	introspectJWTs bool
	routing        bool // a key manager routes tokens (TokenRouter)
	maxTokenSize   int
	realm          string
	dpopMode       DPoPMode
	dpop           *dpop.Verifier // nil: DPoP off
}

var _ Authenticator = (*Bearer)(nil)

// ErrJWTNotVerified is a JWT at a bearer scheme that verifies no JWTs (key
// managers only, IntrospectJWTs off): not this scheme's credential.
var ErrJWTNotVerified = fmt.Errorf("authn: the scheme verifies no JWTs: %w", ErrNoCredentials)

// BearerConfig configures NewBearer.
type BearerConfig struct {
	// JWT verifies JWTs (nil when the scheme has no issuers).
	JWT *JWT
	// KeyManagers validate opaque tokens, in this order.
	KeyManagers []KeyManager
	// IntrospectJWTs sends JWTs no issuer of the scheme knows to the key
	// managers (for servers that introspect JWTs too).
	IntrospectJWTs bool
	// DPoP is how the scheme treats DPoP (RFC 9449; confirmation.go), and
	// Proofs verifies the proofs (required unless the mode is off).
	DPoP   DPoPMode
	Proofs *dpop.Verifier
}

// NewBearer returns the bearer authenticator of scheme. Options used:
// WithMaxTokenSize, WithRealm.
func NewBearer(scheme string, cfg BearerConfig, opts ...Option) (*Bearer, error) {
	if cfg.JWT == nil && len(cfg.KeyManagers) == 0 {
		return nil, fmt.Errorf("authn: bearer scheme %q has no issuers and no key managers", scheme)
	}
	seen := map[string]bool{}
	for _, km := range cfg.KeyManagers {
		if seen[km.Name()] {
			return nil, fmt.Errorf("authn: bearer scheme %q: key manager %q is listed twice", scheme, km.Name())
		}
		seen[km.Name()] = true
	}
	routing := false
	for _, km := range cfg.KeyManagers {
		if tr, ok := km.(TokenRouter); ok {
			if routed, _ := tr.Recognizes(""); routed {
				routing = true
			}
		}
	}
	o := buildOptions(opts)
	b := &Bearer{
		scheme:         scheme,
		jwt:            cfg.JWT,
		kms:            cfg.KeyManagers,
		introspectJWTs: cfg.IntrospectJWTs,
		routing:        routing,
		maxTokenSize:   o.maxTokenSize,
		realm:          o.realm,
	}
	if cfg.JWT != nil {
		b.maxTokenSize = cfg.JWT.maxTokenSize
	}
	switch {
	case cfg.DPoP == "" || cfg.DPoP == DPoPOff:
		b.dpopMode = DPoPOff
	case cfg.Proofs == nil:
		return nil, fmt.Errorf("authn: bearer scheme %q: dpop %s needs a proof verifier", scheme, cfg.DPoP)
	default:
		if _, err := ParseDPoPMode(string(cfg.DPoP)); err != nil {
			return nil, fmt.Errorf("authn: bearer scheme %q: %w", scheme, err)
		}
		b.dpopMode, b.dpop = cfg.DPoP, cfg.Proofs
	}
	if b.realm == "" {
		b.realm = scheme
	}
	return b, nil
}

// Scheme is the OpenAPI securityScheme name.
func (b *Bearer) Scheme() string { return b.scheme }

// JWT returns the scheme's JWT verifier (nil without issuers).
func (b *Bearer) JWT() *JWT { return b.jwt }

// Challenge is the scheme's WWW-Authenticate value without error parameters.
func (b *Bearer) Challenge() string { return BearerChallenge(b.realm, "", "") }

// ChallengeScheme is the auth-scheme of the challenge: "Bearer".
func (b *Bearer) ChallengeScheme() string { return "Bearer" }

// Authenticate routes the request's bearer token, then checks its binding
// (bind: DPoP). See the type comment.
func (b *Bearer) Authenticate(r *http.Request) (*Identity, error) {
	tok, how, err := b.bearerToken(r)
	if err != nil {
		return nil, err
	}
	id, err := b.verify(r, tok)
	if err != nil {
		return nil, err
	}
	return b.bind(r, id, tok, how)
}

// verify verifies a token: the JWT verifier or the key managers.
func (b *Bearer) verify(r *http.Request, tok string) (*Identity, error) {
	if len(tok) > b.maxTokenSize {
		return nil, Reject(b.scheme, ReasonMalformed, "token too long", nil)
	}
	var jwtErr error
	if b.jwt != nil {
		id, err := b.jwt.Verify(r.Context(), tok)
		if err == nil || !b.toKeyManagers(err) {
			return id, err
		}
		jwtErr = err
	} else if err := b.classify(tok); err != nil && !b.toKeyManagers(err) {
		if rej, ok := AsRejection(err); ok && rej.Reason == ReasonUnknownIssuer {
			// A JWT at a scheme that verifies no JWTs is another
			// scheme's credential: "not mine", so an OR'ed JWT scheme
			// sharing the Authorization header can verify it.
			return nil, ErrJWTNotVerified
		}
		return nil, err
	} else {
		jwtErr = err
	}
	if len(b.kms) == 0 {
		if jwtErr == nil {
			jwtErr = ErrNotJWT
		}
		return nil, jwtErr
	}
	return b.validate(r, tok)
}

// toKeyManagers reports whether a JWT verifier's answer hands the token on:
// always for an opaque token (ErrNotJWT), and for a JWT of an unknown issuer
// when the scheme introspects JWTs.
func (b *Bearer) toKeyManagers(err error) bool {
	if errors.Is(err, ErrNotJWT) {
		return len(b.kms) > 0
	}
	if rej, ok := AsRejection(err); ok && b.introspectJWTs && len(b.kms) > 0 {
		return rej.Reason == ReasonUnknownIssuer
	}
	return false
}

// classify is the JWT verifier's shape check for a scheme without issuers:
// nil for an opaque token, a Rejection for a JWE or a JWT (unknown_issuer:
// the scheme trusts no issuer), which IntrospectJWTs hands on.
func (b *Bearer) classify(tok string) error {
	parts, kind := jose.Split([]byte(tok))
	switch kind {
	case jose.JWE:
		return Reject(b.scheme, ReasonUnsupportedCredential, "encrypted tokens (JWE) are not supported", nil)
	case jose.NotJWS:
		return nil
	}
	if _, err := jose.DecodeHeader(parts.Header); errors.Is(err, jose.ErrNotJOSE) {
		return nil
	}
	return Reject(b.scheme, ReasonUnknownIssuer, "the scheme trusts no JWT issuer", nil)
}

// route picks the key managers a token goes to: the first one that
// recognizes it (TokenRouter) alone; when none does, the key managers
// without routing, in their configured order. A token no key manager may
// see is nil.
func (b *Bearer) route(tok string) []KeyManager {
	if !b.routing {
		return b.kms
	}
	unrouted := b.kms[:0:0]
	for _, km := range b.kms {
		tr, ok := km.(TokenRouter)
		if !ok {
			unrouted = append(unrouted, km)
			continue
		}
		routed, mine := tr.Recognizes(tok)
		switch {
		case mine:
			return []KeyManager{km}
		case !routed:
			unrouted = append(unrouted, km)
		}
	}
	return unrouted
}

// validate asks the key managers the token is routed to, in order.
func (b *Bearer) validate(r *http.Request, tok string) (*Identity, error) {
	kms := b.route(tok)
	if len(kms) == 0 {
		return nil, Reject(b.scheme, ReasonInactiveToken, "no key manager of the scheme recognizes the token", nil)
	}
	var rejection, failure error
	for _, km := range kms {
		info, err := km.Validate(r.Context(), tok)
		if err == nil {
			return info.WithScheme(b.scheme), nil
		}
		if rej, ok := AsRejection(err); ok {
			if rejection == nil {
				cp := *rej
				cp.Scheme = b.scheme
				rejection = &cp
			}
			continue
		}
		if failure == nil {
			failure = fmt.Errorf("key manager %s: %w", km.Name(), err)
		}
	}
	if failure != nil {
		return nil, failure
	}
	return nil, rejection
}
