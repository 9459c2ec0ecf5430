package authn

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/authn/jose"
)

// Limits and defaults of an Issuer.
const (
	DefaultLeeway = 60 * time.Second
	MaxLeeway     = 300 * time.Second
)

// DefaultAlgorithms are the JWS algorithms an issuer with asymmetric keys
// accepts unless configured otherwise. "none" is never accepted; HS256/384/512
// only for an issuer with a shared secret, and then exclusively.
var DefaultAlgorithms = slices.Clone(jose.AsymmetricAlgorithms)

// Issuer configures one trusted JWT issuer. It is plain configuration: NewJWT
// checks and copies it, so one Issuer may serve several schemes and later
// changes to it have no effect on authenticators already built.
type Issuer struct {
	// Name identifies the issuer in config and logs (Identity.Source).
	Name string
	// Issuer is the exact `iss` value of its tokens.
	Issuer string
	// Audiences: a token's `aud` (string or array) must contain one of
	// them, compared exactly. Required unless AllowAnyAudience is set.
	Audiences []string
	// AllowAnyAudience disables the audience check. An explicit opt-in:
	// a token minted for any other API of the same IdP would be accepted.
	AllowAnyAudience bool
	// Algorithms is the allow-list of JWS algorithms (DefaultAlgorithms
	// when empty, or the HS algorithms the secret is long enough for when
	// Secret is set). "none" is refused; HS* require Secret.
	Algorithms []string
	// Leeway is the clock skew allowed on exp, nbf and iat: DefaultLeeway
	// when nil, at most MaxLeeway.
	Leeway *time.Duration
	// MaxLifetime, when positive, rejects tokens whose exp is more than
	// this after their iat (or nbf when there is no iat; tokens with
	// neither are rejected).
	MaxLifetime time.Duration
	// RequiredClaims must be present (and not null) in every token.
	RequiredClaims []string
	// Types, when not empty, is the allow-list of the `typ` header (e.g.
	// "at+jwt", RFC 9068). Compared case-insensitively, with or without the
	// "application/" prefix; a token without typ is then rejected.
	Types []string
	// Claims maps identity fields to claims.
	Claims ClaimMapping
	// Keys gives the verification keys (StaticKeys from LoadJWKSFile or
	// LoadPEMFiles, or a RemoteJWKS of this issuer alone). Exactly one of Keys and
	// Secret is set.
	Keys KeySource
	// Secret is a shared HMAC secret of at least 32 bytes. With it, the
	// issuer accepts HS256 (HS384 from 48 bytes, HS512 from 64) and nothing
	// else: HS tokens are never checked against an asymmetric key.
	Secret Redacted
	// SubscriptionValidation marks this issuer's identities
	// (Identity.SubscriptionValidation): the policy then requires the
	// token's application to be subscribed to the API being called.
	SubscriptionValidation bool
	// CacheTTL bounds how long this issuer's verified tokens are cached
	// (the authenticator's WithCacheTTL when zero; negative: never cached).
	// Never past a token's exp.
	CacheTTL time.Duration
}

// ClaimMapping names the claims identity fields come from. Empty fields use
// the defaults described on each. It is also the issuers[].claims section
// of the gateway's configuration.
type ClaimMapping struct {
	// Scope: a space-separated string or an array of strings. Default:
	// both "scope" and "scp" are read and merged.
	Scope string `json:"scope"`
	// ClientID: default the first string among client_id, azp, cid.
	ClientID string `json:"client_id"`
	// Subject: default "sub".
	Subject string `json:"subject"`
	// Application: a string, or an object whose "id", "uuid" or "name"
	// (first present) is used. Default: none.
	Application string `json:"application"`
}

// Validate checks the issuer configuration as NewJWT does.
func (is *Issuer) Validate() error {
	_, err := compileIssuer(is)
	return err
}

// issuer is an Issuer checked and copied for one authenticator.
type issuer struct {
	name         string
	iss          string
	auds         []string
	anyAud       bool
	algs         []string
	leeway       time.Duration
	maxLifetime  time.Duration
	required     []string
	types        []string
	scopeClaim   string
	clientClaim  string
	subjectClaim string
	appClaim     string
	keys         KeySource
	rotating     RotatingKeySource // keys, when they change over time
	subscription bool
	cacheTTL     time.Duration
}

func compileIssuer(cfg *Issuer) (*issuer, error) {
	if cfg == nil {
		return nil, errors.New("nil issuer")
	}
	fail := func(format string, args ...any) (*issuer, error) {
		return nil, fmt.Errorf("issuer %q: %s", cfg.Name, fmt.Sprintf(format, args...))
	}
	if cfg.Name == "" {
		return fail("name is required")
	}
	if cfg.Issuer == "" {
		return fail("issuer (the exact iss value) is required")
	}
	is := &issuer{
		name:         cfg.Name,
		iss:          cfg.Issuer,
		anyAud:       cfg.AllowAnyAudience,
		leeway:       DefaultLeeway,
		maxLifetime:  cfg.MaxLifetime,
		required:     slices.Clone(cfg.RequiredClaims),
		scopeClaim:   cfg.Claims.Scope,
		clientClaim:  cfg.Claims.ClientID,
		subjectClaim: cfg.Claims.Subject,
		appClaim:     cfg.Claims.Application,
		cacheTTL:     cfg.CacheTTL,
		subscription: cfg.SubscriptionValidation,
	}
	if is.subjectClaim == "" {
		is.subjectClaim = "sub"
	}
	for _, a := range cfg.Audiences {
		if a == "" {
			return fail("empty audience")
		}
	}
	is.auds = SortedUnique(cfg.Audiences)
	if len(is.auds) == 0 && !is.anyAud {
		return fail("audiences are required (or allow any audience explicitly)")
	}
	if cfg.Leeway != nil {
		if *cfg.Leeway < 0 || *cfg.Leeway > MaxLeeway {
			return fail("leeway %s is outside 0s..%s", *cfg.Leeway, MaxLeeway)
		}
		is.leeway = *cfg.Leeway
	}
	if is.maxLifetime < 0 {
		return fail("max lifetime must not be negative")
	}
	for _, t := range cfg.Types {
		if t == "" {
			return fail("empty typ in the allow-list")
		}
		is.types = append(is.types, jose.NormalizeTyp(t))
	}
	for _, c := range cfg.RequiredClaims {
		if c == "" {
			return fail("empty required claim name")
		}
	}

	secret := cfg.Secret.Reveal()
	switch {
	case cfg.Keys != nil && secret != "":
		return fail("set either keys or a shared secret, not both")
	case cfg.Keys == nil && secret == "":
		return fail("no keys: configure a JWKS, certificates or a shared secret")
	}
	for _, a := range cfg.Algorithms {
		if !jose.KnownAlgorithm(a) {
			return fail("algorithm %q is not accepted", a)
		}
	}
	if secret != "" {
		keys, allowed, err := hmacKeys([]byte(secret))
		if err != nil {
			return fail("%v", err)
		}
		is.keys = keys
		is.algs = allowed
		if len(cfg.Algorithms) > 0 {
			is.algs = nil
			for _, a := range cfg.Algorithms {
				if !slices.Contains(jose.HMACAlgorithms, a) {
					return fail("an issuer with a shared secret accepts only HS256/HS384/HS512, not %q", a)
				}
				if !slices.Contains(allowed, a) {
					return fail("the shared secret is too short for %s", a)
				}
				is.algs = append(is.algs, a)
			}
		}
	} else {
		is.keys = cfg.Keys
		is.algs = slices.Clone(DefaultAlgorithms)
		if len(cfg.Algorithms) > 0 {
			is.algs = nil
			for _, a := range cfg.Algorithms {
				if slices.Contains(jose.HMACAlgorithms, a) {
					return fail("%s needs a shared secret: HS tokens are never verified with an asymmetric key", a)
				}
				is.algs = append(is.algs, a)
			}
		}
	}
	is.algs = SortedUnique(is.algs)
	is.rotating, _ = is.keys.(RotatingKeySource)
	return is, nil
}
