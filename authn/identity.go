package authn

import (
	"encoding/json"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Credential types, the "type" field of the identity document.
const (
	TypeJWT         = "jwt"
	TypeBasic       = "basic"
	TypeAPIKey      = "api_key"
	TypeMTLS        = "mtls"
	TypeOpaqueToken = "opaque_token"
)

// Identity is the normalized identity document every verified credential
// becomes, whatever its scheme. Policies read it as input.credentials[<scheme>];
// schemas/identity.schema.json describes its JSON form.
//
// An Identity is immutable once returned by an authenticator: verified-token
// caches hand the same value to many concurrent requests.
type Identity struct {
	Scheme      string // OpenAPI securityScheme name
	Type        string // one of the Type* constants
	Subject     string
	Issuer      string // the credential's issuer (iss), if it has one
	Source      string // the configured issuer/key manager/user store that verified it
	ClientID    string
	Application string
	Scopes      []string
	Groups      []string
	Audience    []string
	TokenID     string // jti, or another stable id of the credential
	IssuedAt    time.Time
	NotBefore   time.Time
	ExpiresAt   time.Time
	// CredentialID is a short SHA-256 prefix of the raw credential, safe to
	// log and to correlate requests; never the credential itself.
	CredentialID string
	// claims holds the verified claims of a token (JWT, introspection
	// answer, API key) as compact JSON, never the token itself: SetClaims
	// sets it, Claims reads it (identity_claims.go).
	claims []byte
	// Certificate describes a verified client certificate.
	Certificate *Certificate
	// APIs restricts where the credential may be used (API keys).
	APIs []APIRef
	// Plan is the subscription plan a credential carries, if any (API keys).
	Plan string
	// Confirmation is the RFC 8705 certificate thumbprint (cnf.x5t#S256) the
	// credential is bound to, if any.
	Confirmation string
	// DPoPKey is the RFC 9449 thumbprint (cnf.jkt) of the key the token is
	// bound to. A bearer scheme accepts such a token only with a DPoP
	// proof of that key on the same request (authn/confirmation.go).
	DPoPKey string
	// SubscriptionValidation says the policy must check that Application is
	// subscribed to the API being called (set by the issuer or key manager
	// configuration; policies read identity.subscription_validation).
	SubscriptionValidation bool

	// value memoizes the identity's policy value and its claims' value
	// (identity_value.go); ReleaseValue drops it.
	value atomic.Pointer[identityValue]
	// schemes memoizes WithScheme's copies: scheme → *Identity, made on
	// first use (most identities never need one; an empty sync.Map in every
	// identity cost 48 bytes).
	schemes atomic.Pointer[sync.Map]
}

// WithScheme returns the identity as the identity of scheme: id itself when
// its Scheme already is scheme, else a copy made once per scheme. Key
// managers return identities without a scheme (one key manager may serve
// several schemes, and its cache holds one identity per token); each
// scheme's copy, and so its policy value (AST), is built once.
func (id *Identity) WithScheme(scheme string) *Identity {
	if id.Scheme == scheme {
		return id
	}
	m := id.schemes.Load()
	if m == nil {
		id.schemes.CompareAndSwap(nil, new(sync.Map))
		m = id.schemes.Load()
	}
	if v, ok := m.Load(scheme); ok {
		return v.(*Identity)
	}
	cp := id.clone()
	cp.Scheme = scheme
	if v := id.value.Load(); v != nil && v.claims != nil {
		cp.value.Store(&identityValue{claims: v.claims})
	}
	v, _ := m.LoadOrStore(scheme, cp)
	return v.(*Identity)
}

// clone copies the document's fields (not the memoized state). Every field
// of Identity is listed; TestIdentityCloneCopiesEveryField keeps it so.
func (id *Identity) clone() *Identity {
	return &Identity{
		Scheme:       id.Scheme,
		Type:         id.Type,
		Subject:      id.Subject,
		Issuer:       id.Issuer,
		Source:       id.Source,
		ClientID:     id.ClientID,
		Application:  id.Application,
		Scopes:       id.Scopes,
		Groups:       id.Groups,
		Audience:     id.Audience,
		TokenID:      id.TokenID,
		IssuedAt:     id.IssuedAt,
		NotBefore:    id.NotBefore,
		ExpiresAt:    id.ExpiresAt,
		CredentialID: id.CredentialID,
		claims:       id.claims,
		Certificate:  id.Certificate,
		APIs:         id.APIs,
		Plan:         id.Plan,
		Confirmation: id.Confirmation,
		DPoPKey:      id.DPoPKey,

		SubscriptionValidation: id.SubscriptionValidation,
	}
}

// Certificate is the part of a client certificate policies may look at.
type Certificate struct {
	Subject           string    `json:"subject"`
	CommonName        string    `json:"common_name"`
	Issuer            string    `json:"issuer"`
	Serial            string    `json:"serial"`
	FingerprintSHA256 string    `json:"fingerprint_sha256"`
	NotBefore         time.Time `json:"-"`
	NotAfter          time.Time `json:"-"`
	DNSNames          []string  `json:"dns_names,omitempty"`
	Emails            []string  `json:"emails,omitempty"`
	URIs              []string  `json:"uris,omitempty"`
	SPIFFEID          string    `json:"spiffe_id,omitempty"`
}

// APIRef names an API by name and version; an empty version means any.
type APIRef struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// Map returns the identity document as plain JSON-compatible values, in the
// shape of schemas/identity.schema.json. Used by explain, tests and logs.
func (id *Identity) Map() map[string]any {
	m := map[string]any{
		"scheme": id.Scheme,
		"type":   id.Type,
	}
	putStr(m, "subject", id.Subject)
	putStr(m, "issuer", id.Issuer)
	putStr(m, "source", id.Source)
	putStr(m, "client_id", id.ClientID)
	putStr(m, "application", id.Application)
	putStr(m, "token_id", id.TokenID)
	putStr(m, "credential_id", id.CredentialID)
	putStr(m, "plan", id.Plan)
	putStr(m, "confirmation", id.Confirmation)
	if id.SubscriptionValidation {
		m["subscription_validation"] = true
	}
	m["scopes"] = strList(id.Scopes)
	if len(id.Groups) > 0 {
		m["groups"] = strList(id.Groups)
	}
	if len(id.Audience) > 0 {
		m["audience"] = strList(id.Audience)
	}
	putTime(m, "issued_at", id.IssuedAt)
	putTime(m, "not_before", id.NotBefore)
	putTime(m, "expires_at", id.ExpiresAt)
	if c := id.Claims(); c != nil {
		m["claims"] = c
	}
	if cnf := id.cnf(); cnf != nil {
		m["cnf"] = cnf
	}
	if c := id.Certificate; c != nil {
		cm := map[string]any{
			"subject":            c.Subject,
			"common_name":        c.CommonName,
			"issuer":             c.Issuer,
			"serial":             c.Serial,
			"fingerprint_sha256": c.FingerprintSHA256,
			"dns_names":          strList(c.DNSNames),
			"emails":             strList(c.Emails),
			"uris":               strList(c.URIs),
		}
		putTime(cm, "not_before", c.NotBefore)
		putTime(cm, "not_after", c.NotAfter)
		putStr(cm, "spiffe_id", c.SPIFFEID)
		m["certificate"] = cm
	}
	if id.APIs != nil {
		apis := make([]any, 0, len(id.APIs))
		for _, a := range id.APIs {
			am := map[string]any{"name": a.Name}
			putStr(am, "version", a.Version)
			apis = append(apis, am)
		}
		m["apis"] = apis
	}
	return m
}

// cnf is the identity document's cnf: how the credential is bound to a
// key its holder proved to have on this request. A DPoP-bound identity
// reaches the policy only after its proof verified (Bearer.bind), and a
// certificate-bound one is refused by the base policy without its
// certificate (binding.rego). Nil for an unbound credential.
func (id *Identity) cnf() map[string]any {
	switch {
	case id.DPoPKey != "":
		m := map[string]any{"method": CnfDPoP, "jkt": id.DPoPKey}
		putStr(m, "x5t_s256", id.Confirmation)
		return m
	case id.Confirmation != "":
		return map[string]any{"method": CnfMTLS, "x5t_s256": id.Confirmation}
	}
	return nil
}

// MarshalJSON renders the identity document.
func (id *Identity) MarshalJSON() ([]byte, error) { return json.Marshal(id.Map()) }

// buildAST builds the value of Map directly, with shared key terms and
// shared terms for the values that repeat across identities (scheme, type,
// issuer, source, audience, scopes): a first-seen token used to pay ~60
// allocations for Map plus its conversion, and every cached identity kept its
// own copy of each key and repeated value (identity_ast_test.go checks the
// result against ast.InterfaceToValue(Map())).
func (id *Identity) buildAST(claims ast.Value) ast.Value {
	pairs := make([][2]*ast.Term, 0, 20)
	str := func(k *ast.Term, v string, intern bool) {
		if v == "" {
			return
		}
		if intern {
			pairs = append(pairs, [2]*ast.Term{k, internedTerm(v)})
		} else {
			pairs = append(pairs, [2]*ast.Term{k, ast.StringTerm(v)})
		}
	}
	pairs = append(pairs, [2]*ast.Term{idKeyScheme, internedTerm(id.Scheme)}, [2]*ast.Term{idKeyType, internedTerm(id.Type)})
	str(idKeySubject, id.Subject, false)
	str(idKeyIssuer, id.Issuer, true)
	str(idKeySource, id.Source, true)
	str(idKeyClientID, id.ClientID, true)
	str(idKeyApplication, id.Application, true)
	str(idKeyTokenID, id.TokenID, false)
	str(idKeyCredentialID, id.CredentialID, false)
	str(idKeyPlan, id.Plan, true)
	str(idKeyConfirmation, id.Confirmation, false)
	if id.SubscriptionValidation {
		pairs = append(pairs, [2]*ast.Term{idKeySubscriptionValidation, ast.InternedTerm(true)})
	}
	pairs = append(pairs, [2]*ast.Term{idKeyScopes, internedList(id.Scopes)})
	if len(id.Groups) > 0 {
		pairs = append(pairs, [2]*ast.Term{idKeyGroups, internedList(id.Groups)})
	}
	if len(id.Audience) > 0 {
		pairs = append(pairs, [2]*ast.Term{idKeyAudience, internedList(id.Audience)})
	}
	for _, t := range [...]struct {
		k *ast.Term
		v time.Time
	}{{idKeyIssuedAt, id.IssuedAt}, {idKeyNotBefore, id.NotBefore}, {idKeyExpiresAt, id.ExpiresAt}} {
		if !t.v.IsZero() {
			pairs = append(pairs, [2]*ast.Term{t.k, ast.NumberTerm(json.Number(strconv.FormatInt(t.v.Unix(), 10)))})
		}
	}
	if claims != nil {
		pairs = append(pairs, [2]*ast.Term{idKeyClaims, ast.NewTerm(claims)})
	}
	// The rarer members go through the generic conversion of their Map form.
	if id.Certificate != nil || id.APIs != nil || id.Confirmation != "" || id.DPoPKey != "" {
		m := id.Map()
		for _, k := range []*ast.Term{idKeyCertificate, idKeyAPIs, idKeyCnf} {
			if v, ok := m[string(k.Value.(ast.String))]; ok {
				if av, err := ast.InterfaceToValue(v); err == nil {
					pairs = append(pairs, [2]*ast.Term{k, ast.NewTerm(av)})
				}
			}
		}
	}
	return ast.NewObject(pairs...)
}

// Keys of the identity document, shared by every identity's value.
var (
	idKeyScheme                 = ast.StringTerm("scheme")
	idKeyType                   = ast.StringTerm("type")
	idKeySubject                = ast.StringTerm("subject")
	idKeyIssuer                 = ast.StringTerm("issuer")
	idKeySource                 = ast.StringTerm("source")
	idKeyClientID               = ast.StringTerm("client_id")
	idKeyApplication            = ast.StringTerm("application")
	idKeyTokenID                = ast.StringTerm("token_id")
	idKeyCredentialID           = ast.StringTerm("credential_id")
	idKeyPlan                   = ast.StringTerm("plan")
	idKeyConfirmation           = ast.StringTerm("confirmation")
	idKeySubscriptionValidation = ast.StringTerm("subscription_validation")
	idKeyScopes                 = ast.StringTerm("scopes")
	idKeyGroups                 = ast.StringTerm("groups")
	idKeyAudience               = ast.StringTerm("audience")
	idKeyIssuedAt               = ast.StringTerm("issued_at")
	idKeyNotBefore              = ast.StringTerm("not_before")
	idKeyExpiresAt              = ast.StringTerm("expires_at")
	idKeyClaims                 = ast.StringTerm("claims")
	idKeyCertificate            = ast.StringTerm("certificate")
	idKeyAPIs                   = ast.StringTerm("apis")
	idKeyCnf                    = ast.StringTerm("cnf")
)

// interned holds string terms that repeat across identities (scheme names,
// types, issuers, sources, client ids, audiences, scopes). Terms are never
// mutated once built, so identities share them. Bounded: past maxInterned
// distinct strings (an issuer minting endless client ids or scopes) new
// strings simply get their own term.
var interned = struct {
	sync.RWMutex
	m map[string]*ast.Term
}{m: map[string]*ast.Term{}}

const maxInterned = 4096

func internedTerm(s string) *ast.Term {
	interned.RLock()
	t, ok := interned.m[s]
	interned.RUnlock()
	if ok {
		return t
	}
	t = ast.StringTerm(s)
	interned.Lock()
	if prev, ok := interned.m[s]; ok {
		t = prev
	} else if len(interned.m) < maxInterned {
		interned.m[s] = t
	}
	interned.Unlock()
	return t
}

func internedList(s []string) *ast.Term {
	terms := make([]*ast.Term, len(s))
	for i, v := range s {
		terms[i] = internedTerm(v)
	}
	return ast.ArrayTerm(terms...)
}

func putStr(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func putTime(m map[string]any, k string, t time.Time) {
	if !t.IsZero() {
		m[k] = json.Number(itoa(t.Unix()))
	}
}

func strList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// SortedUnique returns a sorted copy of s without duplicates or empty strings.
func SortedUnique(s []string) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	j := 0
	for i, v := range out {
		if i == 0 || v != out[j-1] {
			out[j] = v
			j++
		}
	}
	return out[:j]
}
