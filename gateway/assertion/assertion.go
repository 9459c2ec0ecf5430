// Package assertion signs the short-lived identity assertion (a JWT) the
// gateway sends upstream with every allowed request, publishes the key set
// upstreams verify it with, and caches signed assertions per generation.
package assertion

import (
	"crypto"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/jose"
)

// Signer signs the short-lived identity assertion the upstream receives
// (default header X-JWT-Assertion) and publishes the matching JWKS on the
// admin listener, so upstreams verify who the gateway let through without
// trusting anything the client sent.
//
// Signing is done by the JOSE core (authn/jose) on a precomputed header: an
// assertion is signed once per (operation, credentials) and reused until half
// its lifetime has passed, so the hot path usually pays a map lookup. A
// second cache keyed by the assertion's content (operation, subject, client,
// application, scopes, certificate) serves first-seen credentials that assert
// the same thing — a client fetching a fresh token per request — as long as
// the cached assertion expires no later than the new credential: an ES256
// signature per first-seen token was 11% of the gateway's CPU (make bench).
type Signer struct {
	signer *jose.Signer
	// keys are the published keys: the signing key first, then the
	// verification-only keys of the key set.
	keys     []jwk.Key
	jwks     []byte
	issuer   string
	audience string
	lifetime time.Duration
	now      func() time.Time
}

// DefaultAlgorithm signs assertions when neither upstream_identity.algorithm
// nor a key file says otherwise. A first-seen principal costs one signature:
// on the 2-core machines of `make bench` a whole assertion takes ~24 µs and
// 16 allocations with Ed25519 against ~40 µs and 79 with ES256 (P-256;
// BenchmarkAssertion), the signature alone ~17 µs against ~31 µs.
// Upstreams verify it with any JOSE library that implements RFC 8037
// (README, "Identity-assertion algorithm"); those that cannot set
// algorithm: ES256.
const DefaultAlgorithm = "EdDSA"

// ErrSigningKey is wrapped by problems with the assertion signing key.
var ErrSigningKey = errors.New("identity assertion signing key")

// New loads the signing key from keyFile (upstream_identity.key_file,
// resolved), or generates one when none is configured (each replica then
// publishes its own JWKS; configure a key file to share one across
// replicas).
func New(cfg Config, keyFile string) (*Signer, error) {
	return Build(cfg, KeyFiles{Active: keyFile}, nil)
}

// Build is New for one generation with the whole key set: the active key
// signs, and it and the verification-only keys are published. Without an
// active key it signs with the process's generated key for the algorithm
// (gen; nil: a new key), so a reload does not change the key upstreams
// verify with.
func Build(cfg Config, files KeyFiles, gen *Generated) (*Signer, error) {
	var signer crypto.Signer
	var err error
	alg := cfg.Algorithm
	if files.Active != "" {
		signer, err = readSigningKey(files.Active)
	} else {
		if alg == "" {
			alg = DefaultAlgorithm
		}
		signer, err = gen.key(alg)
	}
	if err != nil {
		return nil, err
	}
	js, err := jose.NewSigner(signer, alg, "JWT")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSigningKey, err)
	}
	pub, err := js.JWK()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSigningKey, err)
	}
	verify, err := verificationKeys(files, js.KeyID())
	if err != nil {
		return nil, err
	}
	keys := append([]jwk.Key{pub}, verify...)
	jwks, err := jose.MarshalJWKS(keys...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSigningKey, err)
	}
	return &Signer{
		signer:   js,
		keys:     keys,
		jwks:     jwks,
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		lifetime: cfg.Lifetime.D(),
		now:      time.Now,
	}, nil
}

// JWKS returns the public key set upstreams verify assertions with: the
// signing key and the verification-only keys.
func (a *Signer) JWKS() []byte { return a.jwks }

// KeyID is the kid of the signing key.
func (a *Signer) KeyID() string { return a.signer.KeyID() }

// Assertion returns a signed assertion for the identities that satisfied the
// operation, from the generation's cache c when one is fresh.
func (a *Signer) Assertion(c *Cache, op *Operation, ids []*authn.Identity) (string, error) {
	key := assertionKey{op: op}
	cacheable := c != nil && len(ids) <= len(key.ids)
	now := a.now()
	exp := now.Add(a.lifetime)
	for _, id := range ids {
		if !id.ExpiresAt.IsZero() && id.ExpiresAt.Before(exp) {
			exp = id.ExpiresAt
		}
	}
	var ck contentKey
	if cacheable {
		copy(key.ids[:], ids)
		c.mu.Lock()
		e, ok := c.byIDs[key]
		c.mu.Unlock()
		if ok && now.Before(e.refresh) {
			return e.token, nil
		}
		ck = contentKey{op: op, s: assertionContent(ids)}
		c.mu.Lock()
		e, ok = c.content[ck]
		if ok && now.Before(e.refresh) && !e.exp.After(exp) {
			c.storeLocked(key, ck, e)
			c.mu.Unlock()
			return e.token, nil
		}
		c.mu.Unlock()
	}
	tok, err := a.signer.SignClaims(a.claims(op, ids, now, exp))
	if err != nil {
		return "", err
	}
	if cacheable {
		e := cachedAssertion{token: tok, refresh: now.Add(exp.Sub(now) / 2), exp: exp}
		c.mu.Lock()
		c.storeLocked(key, ck, e)
		c.mu.Unlock()
	}
	return tok, nil
}

// assertionContent is everything claims() reads from the identities, so two
// credential sets with the same content get the same claims but for iat/exp.
func assertionContent(ids []*authn.Identity) string {
	var b strings.Builder
	for _, id := range ids {
		for _, f := range [...]string{id.Scheme, id.Type, id.Subject, id.Issuer, id.ClientID, id.Application} {
			b.WriteString(f)
			b.WriteByte(0)
		}
		for _, sc := range id.Scopes {
			b.WriteString(sc)
			b.WriteByte(' ')
		}
		b.WriteByte(0)
		if id.Certificate != nil {
			b.WriteString(id.Certificate.FingerprintSHA256)
		}
		b.WriteByte(1)
	}
	return b.String()
}

// claims builds the assertion's claims. The subject comes from the strongest
// credential: a token (JWT, opaque, API key) over a certificate over Basic.
func (a *Signer) claims(op *Operation, ids []*authn.Identity, now, exp time.Time) *signedClaims {
	c := &signedClaims{
		Iss:       a.issuer,
		Aud:       a.audience,
		Iat:       now.Unix(),
		Exp:       exp.Unix(),
		API:       apiClaim{Name: op.API, Version: op.Version},
		Operation: op.ID,
		Schemes:   make([]string, 0, len(ids)),
	}
	if c.Aud == "" {
		c.Aud = op.API
	}
	var scopes []string
	var principal *authn.Identity
	for _, id := range ids {
		c.Schemes = append(c.Schemes, id.Scheme)
		scopes = append(scopes, id.Scopes...)
		if principal == nil || rank(id) < rank(principal) {
			principal = id
		}
	}
	if len(scopes) > 0 {
		scope := strings.Join(authn.SortedUnique(scopes), " ")
		c.Scope = &scope
	}
	if principal != nil {
		c.Sub = &principal.Subject
		c.CredentialIssuer = principal.Issuer
		c.ClientID = principal.ClientID
		c.Application = principal.Application
		c.CredentialType = principal.Type
	}
	for _, id := range ids {
		if id.Certificate != nil {
			c.Certificate = certificateClaim(id.Certificate)
		}
	}
	return c
}

// signedClaims are the assertion's claims as a struct: encoding/json
// writes a struct without the reflection over map keys, sorting and boxing
// a map[string]any cost (~60 of an ES256 assertion's 125 allocations). The
// fields are in the order of their names, as a map's were, so the JSON is
// byte for byte what it was (TestClaimsJSONUnchanged). Optional members are
// omitted exactly when the map left them out: empty strings for the
// principal's issuer, client, application and type; sub and scope only
// without a principal or scopes (pointers, so an empty value is still
// written when present).
type signedClaims struct {
	API              apiClaim       `json:"api"`
	Application      string         `json:"application,omitempty"`
	Aud              string         `json:"aud"`
	Certificate      map[string]any `json:"certificate,omitempty"`
	ClientID         string         `json:"client_id,omitempty"`
	CredentialIssuer string         `json:"credential_issuer,omitempty"`
	CredentialType   string         `json:"credential_type,omitempty"`
	Exp              int64          `json:"exp"`
	Iat              int64          `json:"iat"`
	Iss              string         `json:"iss"`
	Operation        string         `json:"operation"`
	Schemes          []string       `json:"schemes"`
	Scope            *string        `json:"scope,omitempty"`
	Sub              *string        `json:"sub,omitempty"`
}

type apiClaim struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

func rank(id *authn.Identity) int {
	switch id.Type {
	case authn.TypeJWT, authn.TypeOpaqueToken, authn.TypeAPIKey:
		return 0
	case authn.TypeMTLS:
		return 1
	}
	return 2
}
