package apikeys

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/authn"
)

// Request asks for one API key (the JSON body of POST /apikeys, and what
// the CLI flags build).
type Request struct {
	// APIs the key may call: name and version (an empty version: every
	// version of that API). Required unless AllAPIs.
	APIs []authn.APIRef `json:"apis,omitempty"`
	// AllAPIs lets the key call every API (encoded as the API name "*").
	AllAPIs bool `json:"all_apis,omitempty"`
	// Validity is a Go duration ("720h"); empty: the default validity.
	Validity string `json:"validity,omitempty"`
	// NoExpiry asks for a key without exp (refused unless allowed).
	NoExpiry bool `json:"no_expiry,omitempty"`
	// Subject is the key's sub (default: the application).
	Subject string `json:"subject,omitempty"`
	// Application is the application the key belongs to (subscription
	// rules apply to it).
	Application string `json:"application,omitempty"`
	// Plan is an optional subscription plan / tier name.
	Plan string `json:"plan,omitempty"`
	// Scopes are optional scopes the key carries (for operations whose
	// apiKey requirement lists scopes).
	Scopes []string `json:"scopes,omitempty"`
}

// Issued is a new key and what it allows. Key is shown once: the service
// keeps no copy.
type Issued struct {
	Key         string         `json:"key"`
	ID          string         `json:"id"`
	IssuedAt    time.Time      `json:"issued_at"`
	ExpiresAt   *time.Time     `json:"expires_at"` // null: no expiry
	Subject     string         `json:"subject"`
	Application string         `json:"application,omitempty"`
	Plan        string         `json:"plan,omitempty"`
	APIs        []authn.APIRef `json:"apis"`
	Scopes      []string       `json:"scopes,omitempty"`
}

// maxField bounds every string of a request.
const maxField = 256

// Issue signs a new key for req. Problems with the request wrap
// ErrInvalidRequest; a verify-only service returns ErrCannotIssue.
func (s *Service) Issue(req Request) (*Issued, error) {
	if !s.CanIssue() {
		return nil, ErrCannotIssue
	}
	apis, err := s.checkAPIs(req)
	if err != nil {
		return nil, err
	}
	for name, v := range map[string]string{"subject": req.Subject, "application": req.Application, "plan": req.Plan} {
		if err := checkText(name, v); err != nil {
			return nil, err
		}
	}
	sub := req.Subject
	if sub == "" {
		sub = req.Application
	}
	if sub == "" {
		return nil, invalid("subject or application is required")
	}
	for _, sc := range req.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n\"\\") || len(sc) > maxField {
			return nil, invalid("scope %q is empty, too long or has spaces or quotes", sc)
		}
	}
	now := s.cfg.Now().Truncate(time.Second)
	exp, err := s.expiry(req, now)
	if err != nil {
		return nil, err
	}
	jti, err := newJTI()
	if err != nil {
		return nil, fmt.Errorf("%w: random: %w", ErrKey, err)
	}
	claims := map[string]any{
		"iss":                s.cfg.Issuer,
		"sub":                sub,
		"iat":                now.Unix(),
		"jti":                jti,
		authn.APIKeyUseClaim: authn.APIKeyUseValue,
		"apis":               apis,
	}
	put := func(k, v string) {
		if v != "" {
			claims[k] = v
		}
	}
	put("application", req.Application)
	put("plan", req.Plan)
	scopes := authn.SortedUnique(req.Scopes)
	if len(scopes) > 0 {
		claims["scope"] = strings.Join(scopes, " ")
	}
	out := &Issued{ID: jti, IssuedAt: now, Subject: sub, Application: req.Application, Plan: req.Plan, APIs: apis, Scopes: scopes}
	if exp != nil {
		claims["exp"] = exp.Unix()
		out.ExpiresAt = exp
	}
	if out.Key, err = s.sign(claims); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) checkAPIs(req Request) ([]authn.APIRef, error) {
	if req.AllAPIs {
		if len(req.APIs) > 0 {
			return nil, invalid("give either apis or all_apis, not both")
		}
		return []authn.APIRef{{Name: authn.AllAPIs}}, nil
	}
	if len(req.APIs) == 0 {
		return nil, invalid("apis is required (or all_apis: true)")
	}
	if len(req.APIs) > 100 {
		return nil, invalid("at most 100 APIs per key")
	}
	out := make([]authn.APIRef, 0, len(req.APIs))
	for _, a := range req.APIs {
		if a.Name == "" || a.Name == authn.AllAPIs {
			return nil, invalid("every API needs a name (use all_apis for every API)")
		}
		if err := checkText("api name", a.Name); err != nil {
			return nil, err
		}
		if err := checkText("api version", a.Version); err != nil {
			return nil, err
		}
		if s.cfg.KnownAPIs != nil && !known(s.cfg.KnownAPIs, a) {
			return nil, invalid("no API %s is served by this gateway", apiString([]authn.APIRef{a}))
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

func known(apis []authn.APIRef, a authn.APIRef) bool {
	return slices.ContainsFunc(apis, func(k authn.APIRef) bool {
		return k.Name == a.Name && (a.Version == "" || a.Version == k.Version)
	})
}

func (s *Service) expiry(req Request, now time.Time) (*time.Time, error) {
	if req.NoExpiry {
		if req.Validity != "" {
			return nil, invalid("give either validity or no_expiry, not both")
		}
		if !s.cfg.AllowNoExpiry {
			return nil, invalid("keys without expiry are not allowed by this gateway's configuration")
		}
		return nil, nil
	}
	v := s.cfg.DefaultValidity
	if req.Validity != "" {
		d, err := time.ParseDuration(req.Validity)
		if err != nil {
			return nil, invalid("validity %q is not a duration such as 720h", req.Validity)
		}
		v = d
	}
	switch {
	case v < MinValidity:
		return nil, invalid("validity %s is below the minimum %s", v, MinValidity)
	case v > s.cfg.MaxValidity:
		return nil, invalid("validity %s exceeds the maximum %s", v, s.cfg.MaxValidity)
	}
	exp := now.Add(v)
	return &exp, nil
}

func checkText(name, v string) error {
	if len(v) > maxField || !utf8.ValidString(v) {
		return invalid("%s is too long or not UTF-8", name)
	}
	for _, c := range v {
		if c < 0x20 || c == 0x7f {
			return invalid("%s contains control characters", name)
		}
	}
	return nil
}
