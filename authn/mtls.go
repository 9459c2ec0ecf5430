package authn

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// MTLS authenticates a client certificate (OpenAPI `mutualTLS`, or the
// x-gatehouse-mtls / x-wso2-mutual-ssl extensions) against the trust of ONE
// API: a certificate issued under API A's CA never authenticates on API B,
// because each API gets its own MTLS with its own Trust.
//
// The TLS handshake only requests a certificate (and proves the client holds
// its key); this authenticator decides, after routing, whether the API
// trusts it. Outcomes: no client certificate: ErrNoCredentials. A CA
// certificate as leaf, a leaf without the clientAuth extended key usage, a
// chain that does not end at one of the API's CAs, or a certificate outside
// the API's allow-lists: untrusted_certificate. Outside its validity period:
// expired / not_yet_valid. Listed in a CRL: revoked. A trust whose files
// could not be read, or a CRL past its nextUpdate: a technical failure (the
// gateway fails closed with 503), never a pass.
//
// An x509 chain verification costs ~100 µs, so results are cached under the
// SHA-256 of the presented chain: successes until min(cache TTL, the
// certificate's and its CAs' notAfter, the CRLs' nextUpdate), rejections for
// a short time (so a flood of one bad certificate costs one verification per
// NegativeCacheTTL), and never across a trust reload.
type MTLS struct {
	scheme   string
	trust    *Trust
	allowFP  map[string]struct{}
	allowSub []string
	allowSAN []string
	subject  string
	app      string
	cache    *Cache[*mtlsResult]
	cacheTTL time.Duration
	now      func() time.Time
}

var _ Authenticator = (*MTLS)(nil)

// NegativeCacheTTL bounds how long a rejected certificate's verdict is
// reused.
const NegativeCacheTTL = 10 * time.Second

// MTLSConfig is what an API says about the client certificates it accepts,
// beyond its CAs.
type MTLSConfig struct {
	// Trust holds the API's CA bundles and CRLs (required). It is built
	// from files, so it is not part of the configuration's JSON form.
	Trust *Trust `json:"-"`
	// AllowedFingerprints, AllowedSubjects and AllowedSANs are allow-lists:
	// when any is set, the certificate must match at least one entry of
	// them. Fingerprints are hex SHA-256 of the certificate's DER (colons
	// and case ignored). Subjects are patterns over the subject DN as
	// RFC 2253 renders it ("CN=partner-1,O=Acme"); SANs are patterns over
	// DNS, email and URI SANs. In patterns, * matches any run of characters.
	AllowedFingerprints []string `json:"allowed_fingerprints"`
	AllowedSubjects     []string `json:"allowed_subjects"`
	AllowedSANs         []string `json:"allowed_sans"`
	// SubjectFrom and ApplicationFrom name the certificate field that
	// becomes the identity's subject (default "dn") and application (default
	// none), so subscriptions work for certificate clients: one of dn, cn,
	// dns, email, uri, spiffe_id, fingerprint.
	SubjectFrom     string `json:"subject_from"`
	ApplicationFrom string `json:"application_from"`
}

// CertificateFields are the values SubjectFrom and ApplicationFrom accept.
var CertificateFields = []string{"dn", "cn", "dns", "email", "uri", "spiffe_id", "fingerprint"}

type mtlsResult struct {
	id      *Identity
	rej     *Rejection
	version uint64
}

// NewMTLS returns the client-certificate authenticator of scheme for one
// API. Options used: WithCacheTTL, WithCacheSize, WithClock.
func NewMTLS(scheme string, cfg MTLSConfig, opts ...Option) (*MTLS, error) {
	if cfg.Trust == nil {
		return nil, fmt.Errorf("authn: mtls scheme %s: no trust (client CA) configured", scheme)
	}
	o := buildOptions(opts)
	m := &MTLS{
		scheme: scheme, trust: cfg.Trust, now: o.now, cacheTTL: o.cacheTTL,
		allowSub: cfg.AllowedSubjects, allowSAN: cfg.AllowedSANs,
		subject: cfg.SubjectFrom, app: cfg.ApplicationFrom,
	}
	if m.subject == "" {
		m.subject = "dn"
	}
	for _, f := range []string{m.subject, m.app} {
		if f != "" && !slices.Contains(CertificateFields, f) {
			return nil, fmt.Errorf("authn: mtls scheme %s: unknown certificate field %q (want one of %s)", scheme, f, strings.Join(CertificateFields, ", "))
		}
	}
	if len(cfg.AllowedFingerprints) > 0 {
		m.allowFP = map[string]struct{}{}
		for _, fp := range cfg.AllowedFingerprints {
			n, err := NormalizeFingerprint(fp)
			if err != nil {
				return nil, fmt.Errorf("authn: mtls scheme %s: %w", scheme, err)
			}
			m.allowFP[n] = struct{}{}
		}
	}
	// Rejections are cached even when successes are not (TTL 0): they are
	// what an attacker can repeat.
	m.cache = NewCache[*mtlsResult](o.cacheSize, o.now)
	return m, nil
}

// NormalizeFingerprint turns "AB:CD:…" or "abcd…" into 64 lowercase hex
// digits, or fails.
func NormalizeFingerprint(fp string) (string, error) {
	n := strings.ToLower(strings.ReplaceAll(fp, ":", ""))
	if b, err := hex.DecodeString(n); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("fingerprint %q is not a hex SHA-256", fp)
	}
	return n, nil
}

// Scheme implements Authenticator.
func (m *MTLS) Scheme() string { return m.scheme }

// Trust returns the API trust this authenticator checks against.
func (m *MTLS) Trust() *Trust { return m.trust }

// Authenticate implements Authenticator.
func (m *MTLS) Authenticate(r *http.Request) (*Identity, error) {
	if err := ForwardedCertificateError(r); err != nil {
		return nil, m.reject(ReasonMalformed, "the trusted proxy's client certificate header is malformed", err)
	}
	chain, _ := ClientCertificates(r)
	if len(chain) == 0 {
		return nil, ErrNoCredentials
	}
	return m.Verify(chain)
}

// Verify checks a client certificate chain (leaf first, as presented).
func (m *MTLS) Verify(chain []*x509.Certificate) (*Identity, error) {
	st := m.trust.cur.Load()
	if st.err != nil {
		return nil, st.err
	}
	key := chainKey(chain)
	if res, ok := m.cache.Get(key); ok && res.version == st.version {
		if res.rej != nil {
			return nil, res.rej
		}
		return res.id, nil
	}
	now := m.now()
	id, rej, until, err := m.verify(st, chain, now)
	if err != nil {
		return nil, err // trust problem: fail closed, never cached
	}
	if rej != nil {
		m.cache.Put(key, &mtlsResult{rej: rej, version: st.version}, now.Add(NegativeCacheTTL))
		return nil, rej
	}
	if m.cacheTTL > 0 {
		exp := now.Add(m.cacheTTL)
		if until.Before(exp) {
			exp = until
		}
		m.cache.Put(key, &mtlsResult{id: id, version: st.version}, exp)
	}
	return id, nil
}

// chainKey is the SHA-256 of the presented chain: the same leaf with other
// intermediates may verify differently.
func chainKey(chain []*x509.Certificate) CacheKey {
	if len(chain) == 1 {
		return sha256.Sum256(chain[0].Raw)
	}
	h := sha256.New()
	for _, c := range chain {
		h.Write(c.Raw)
	}
	var k CacheKey
	h.Sum(k[:0])
	return k
}

func (m *MTLS) reject(reason Reason, detail string, cause error) *Rejection {
	return Reject(m.scheme, reason, detail, cause)
}

// verify returns the identity, or a rejection, or a technical error; until
// is when a success stops being valid (certificates' notAfter, CRLs'
// nextUpdate).
func (m *MTLS) verify(st *trustState, chain []*x509.Certificate, now time.Time) (*Identity, *Rejection, time.Time, error) {
	leaf := chain[0]
	if leaf.IsCA {
		return nil, m.reject(ReasonUntrustedCertificate, "a CA certificate is not a client certificate", nil), time.Time{}, nil
	}
	if now.Before(leaf.NotBefore) {
		return nil, m.reject(ReasonNotYetValid, "client certificate is not valid yet", nil), time.Time{}, nil
	}
	if now.After(leaf.NotAfter) {
		return nil, m.reject(ReasonExpired, "client certificate has expired", nil), time.Time{}, nil
	}
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		// Stricter than x509.Verify, which treats a leaf without EKU as
		// good for anything: a client certificate must say it is one.
		return nil, m.reject(ReasonUntrustedCertificate, "client certificate lacks the clientAuth extended key usage", nil), time.Time{}, nil
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         st.roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, m.reject(ReasonUntrustedCertificate, verifyDetail(err), err), time.Time{}, nil
	}
	until := leaf.NotAfter
	for _, ch := range chains {
		next, err := st.checkRevocation(ch, now)
		switch {
		case errors.Is(err, errRevoked):
			return nil, m.reject(ReasonRevoked, "client certificate is revoked (CRL)", nil), time.Time{}, nil
		case errors.Is(err, errNoCRL):
			return nil, m.reject(ReasonUntrustedCertificate, "CRLs are configured but none is from the certificate's issuer", nil), time.Time{}, nil
		case err != nil:
			return nil, nil, time.Time{}, err
		}
		if !next.IsZero() && next.Before(until) {
			until = next
		}
		for _, c := range ch {
			if c.NotAfter.Before(until) {
				until = c.NotAfter
			}
		}
	}
	cert := describeCertificate(leaf)
	if !m.allowed(leaf, cert) {
		return nil, m.reject(ReasonUntrustedCertificate, "client certificate is not in the API's allow-list", nil), time.Time{}, nil
	}
	id := &Identity{
		Scheme:       m.scheme,
		Type:         TypeMTLS,
		Subject:      certField(cert, m.subject),
		Issuer:       cert.Issuer,
		Source:       m.trust.Name(),
		Application:  certField(cert, m.app),
		TokenID:      cert.FingerprintSHA256,
		NotBefore:    leaf.NotBefore,
		ExpiresAt:    leaf.NotAfter,
		CredentialID: cert.FingerprintSHA256[:12],
		Certificate:  cert,
	}
	id.AST() // built once, here, not on the request that reuses it
	return id, nil, until, nil
}

func verifyDetail(err error) string {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return "certificate is not issued by a CA this API trusts"
	case errors.As(err, &ci):
		switch ci.Reason {
		case x509.Expired:
			return "a certificate of the chain is outside its validity period"
		case x509.IncompatibleUsage:
			return "a certificate of the chain does not allow clientAuth"
		case x509.NotAuthorizedToSign:
			return "a certificate of the chain is not a CA"
		}
		return "chain does not verify"
	}
	return "chain does not verify"
}

// DescribeCertificate returns the identity document's view of a certificate.
func DescribeCertificate(c *x509.Certificate) *Certificate { return describeCertificate(c) }

func describeCertificate(c *x509.Certificate) *Certificate {
	sum := sha256.Sum256(c.Raw)
	out := &Certificate{
		Subject:           c.Subject.String(),
		CommonName:        c.Subject.CommonName,
		Issuer:            c.Issuer.String(),
		Serial:            hex.EncodeToString(c.SerialNumber.Bytes()),
		FingerprintSHA256: hex.EncodeToString(sum[:]),
		NotBefore:         c.NotBefore,
		NotAfter:          c.NotAfter,
		DNSNames:          c.DNSNames,
		Emails:            c.EmailAddresses,
	}
	for _, u := range c.URIs {
		s := u.String()
		out.URIs = append(out.URIs, s)
		if u.Scheme == "spiffe" && out.SPIFFEID == "" {
			out.SPIFFEID = s
		}
	}
	return out
}

// certField reads the field SubjectFrom / ApplicationFrom names.
func certField(c *Certificate, field string) string {
	first := func(s []string) string {
		if len(s) > 0 {
			return s[0]
		}
		return ""
	}
	switch field {
	case "dn":
		return c.Subject
	case "cn":
		return c.CommonName
	case "dns":
		return first(c.DNSNames)
	case "email":
		return first(c.Emails)
	case "uri":
		return first(c.URIs)
	case "spiffe_id":
		return c.SPIFFEID
	case "fingerprint":
		return c.FingerprintSHA256
	}
	return ""
}

// allowed applies the allow-lists; no list at all allows every certificate
// the trust verified.
func (m *MTLS) allowed(leaf *x509.Certificate, c *Certificate) bool {
	if m.allowFP == nil && len(m.allowSub) == 0 && len(m.allowSAN) == 0 {
		return true
	}
	if _, ok := m.allowFP[c.FingerprintSHA256]; ok {
		return true
	}
	for _, p := range m.allowSub {
		if Glob(p, c.Subject) {
			return true
		}
	}
	for _, p := range m.allowSAN {
		for _, list := range [][]string{c.DNSNames, c.Emails, c.URIs} {
			for _, v := range list {
				if Glob(p, v) {
					return true
				}
			}
		}
	}
	return false
}

// Glob reports whether s matches pattern, where * matches any run of
// characters (also / and .) and every other character matches itself.
func Glob(pattern, s string) bool {
	// Iterative matching with one backtrack point: linear in practice,
	// never exponential.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
