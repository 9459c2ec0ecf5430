package authn

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ErrTrust is wrapped by every problem reading client-certificate trust
// material (CA bundles, CRLs). At request time it is a technical failure:
// the gateway fails closed (503) for the APIs that use that trust.
var ErrTrust = errors.New("client certificate trust")

// ErrCRLExpired is wrapped when a configured CRL is past its nextUpdate:
// revocation status is unknown, so the request fails closed.
var ErrCRLExpired = errors.New("CRL is past its nextUpdate")

// Trust is the client-certificate trust of one API: the CA bundle(s) it
// accepts and the CRLs that revoke certificates under them. It is read from
// files and can be reloaded in place (Reload) while requests are served: a
// request sees the old or the new material, never a mix. Every reload bumps
// Version, so verification results cached under an older version are
// ignored.
//
// A reload that fails (unreadable or invalid file) does not keep the old
// material: the trust reports the error (Err) and every certificate checked
// against it fails closed until a reload succeeds. Removing trust must not
// depend on files being well-formed.
//
// The gateway does not reload a Trust in place: every generation builds
// its own with NewTrust, so a file that does not load fails that build and
// the serving generation keeps its trust (gateway/reload.go). A CRL past
// its nextUpdate loads, and still fails closed per request.
type Trust struct {
	name     string
	caFiles  []string
	crlFiles []string
	cur      atomic.Pointer[trustState]
	mu       sync.Mutex // serializes Reload
	version  atomic.Uint64
}

type trustState struct {
	version uint64
	roots   *x509.CertPool
	certs   []*x509.Certificate // the bundle, for CertificateRequest hints
	crls    []*crlEntry
	err     error
	loaded  time.Time
}

// crlEntry is one parsed CRL. Its signature is checked against the issuer
// found in a verified chain, once per issuer certificate.
type crlEntry struct {
	file     string
	list     *x509.RevocationList
	revoked  map[string]struct{} // serial (big-endian bytes) → revoked
	verified sync.Map            // [32]byte fingerprint of an issuer → error (nil: signature ok)
}

// NewTrust reads the CA bundles and CRLs. name says whose trust it is (the
// API) in errors and logs. At least one CA file is required.
func NewTrust(name string, caFiles, crlFiles []string) (*Trust, error) {
	if len(caFiles) == 0 {
		return nil, fmt.Errorf("%w of %s: no CA file", ErrTrust, name)
	}
	t := &Trust{name: name, caFiles: append([]string(nil), caFiles...), crlFiles: append([]string(nil), crlFiles...)}
	if err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Name is the trust's name (the API it belongs to).
func (t *Trust) Name() string { return t.name }

// Files returns every file the trust reads, for file watching.
func (t *Trust) Files() []string {
	return append(append([]string(nil), t.caFiles...), t.crlFiles...)
}

// Version increases with every reload, successful or not.
func (t *Trust) Version() uint64 { return t.cur.Load().version }

// Err is the error of the last reload, nil when the material is in use.
func (t *Trust) Err() error { return t.cur.Load().err }

// Certificates returns the CA certificates of the bundle (nil after a failed
// reload), for the CertificateRequest's list of acceptable CAs.
func (t *Trust) Certificates() []*x509.Certificate { return t.cur.Load().certs }

// CRLNextUpdate is the earliest nextUpdate of the configured CRLs (zero when
// there are none), for readiness and metrics.
func (t *Trust) CRLNextUpdate() time.Time {
	var min time.Time
	for _, c := range t.cur.Load().crls {
		if nu := c.list.NextUpdate; !nu.IsZero() && (min.IsZero() || nu.Before(min)) {
			min = nu
		}
	}
	return min
}

// Reload re-reads every file. On error the trust fails closed (see Trust)
// and the error is returned so the caller reports it.
func (t *Trust) Reload() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := &trustState{version: t.version.Add(1), loaded: time.Now()}
	st.err = st.load(t.caFiles, t.crlFiles)
	if st.err != nil {
		st.err = fmt.Errorf("%w of %s: %w", ErrTrust, t.name, st.err)
		st.roots, st.certs, st.crls = nil, nil, nil
	}
	t.cur.Store(st)
	return st.err
}

func (st *trustState) load(caFiles, crlFiles []string) error {
	st.roots = x509.NewCertPool()
	for _, f := range caFiles {
		certs, err := ReadPEMCertificates(f)
		if err != nil {
			return err
		}
		for _, c := range certs {
			if !c.IsCA || !c.BasicConstraintsValid {
				return fmt.Errorf("%s: certificate %q is not a CA certificate", f, c.Subject.String())
			}
			st.roots.AddCert(c)
			st.certs = append(st.certs, c)
		}
	}
	for _, f := range crlFiles {
		e, err := readCRL(f)
		if err != nil {
			return err
		}
		st.crls = append(st.crls, e)
	}
	return nil
}

// ReadPEMCertificates reads every CERTIFICATE block of a PEM file; a file
// without one is an error. Client-CA trust and `gatehouse explain --cert`
// read certificates through it.
func ReadPEMCertificates(file string) ([]*x509.Certificate, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, raw = pem.Decode(raw)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return out, nil
}

// readCRL reads a CRL file, PEM ("X509 CRL") or DER.
func readCRL(file string) (*crlEntry, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	der := raw
	if b, _ := pem.Decode(raw); b != nil {
		if b.Type != "X509 CRL" {
			return nil, fmt.Errorf("%s: PEM block %q is not an X509 CRL", file, b.Type)
		}
		der = b.Bytes
	}
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if l.NextUpdate.IsZero() {
		// RFC 5280 §5.1.2.5: conforming CRLs carry nextUpdate. Without it
		// nothing says when the list is stale, so it is refused.
		return nil, fmt.Errorf("%s: CRL has no nextUpdate", file)
	}
	e := &crlEntry{file: file, list: l, revoked: make(map[string]struct{}, len(l.RevokedCertificateEntries))}
	for _, r := range l.RevokedCertificateEntries {
		e.revoked[string(r.SerialNumber.Bytes())] = struct{}{}
	}
	return e, nil
}

// crlFor returns the CRL issued by the issuer of c, if one is configured.
func (st *trustState) crlFor(c *x509.Certificate) *crlEntry {
	for _, e := range st.crls {
		if bytes.Equal(e.list.RawIssuer, c.RawIssuer) {
			return e
		}
	}
	return nil
}

// checkSignature verifies the CRL's signature against issuer, once per
// issuer certificate.
func (e *crlEntry) checkSignature(issuer *x509.Certificate) error {
	key := sha256.Sum256(issuer.Raw)
	if v, ok := e.verified.Load(key); ok {
		if v == nil {
			return nil
		}
		return v.(error)
	}
	err := e.list.CheckSignatureFrom(issuer)
	if err != nil {
		err = fmt.Errorf("%w: %s: CRL signature does not verify against %q: %w", ErrTrust, e.file, issuer.Subject.String(), err)
		e.verified.Store(key, err)
		return err
	}
	e.verified.Store(key, nil)
	return nil
}

// errRevoked and errNoCRL are the two revocation outcomes that reject a
// certificate (as opposed to a CRL problem, which fails closed).
var (
	errRevoked = errors.New("certificate is revoked")
	errNoCRL   = errors.New("no CRL from the certificate's issuer is configured")
)

// checkRevocation checks a verified chain (leaf first, trust anchor last)
// against the CRLs. When CRLs are configured, the leaf's issuer must have
// one (as OpenSSL's CRL_CHECK); intermediates are checked when their
// issuer's CRL is configured. It returns the earliest nextUpdate of the CRLs
// used, which bounds how long the result may be cached.
func (st *trustState) checkRevocation(chain []*x509.Certificate, now time.Time) (time.Time, error) {
	var next time.Time
	if len(st.crls) == 0 {
		return next, nil
	}
	for i := 0; i+1 < len(chain); i++ {
		c, issuer := chain[i], chain[i+1]
		e := st.crlFor(c)
		if e == nil {
			if i == 0 {
				return next, errNoCRL
			}
			continue
		}
		if err := e.checkSignature(issuer); err != nil {
			return next, err
		}
		if nu := e.list.NextUpdate; !nu.IsZero() {
			if !now.Before(nu) {
				return next, fmt.Errorf("%w: %s (nextUpdate %s)", ErrCRLExpired, e.file, nu.UTC().Format(time.RFC3339))
			}
			if next.IsZero() || nu.Before(next) {
				next = nu
			}
		}
		if _, revoked := e.revoked[string(c.SerialNumber.Bytes())]; revoked {
			return next, errRevoked
		}
	}
	return next, nil
}
