package authntest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// CRLOption adjusts a CRL before it is signed.
type CRLOption func(*x509.RevocationList)

// CRLValidity sets thisUpdate and nextUpdate (an expired CRL has a
// nextUpdate in the past).
func CRLValidity(thisUpdate, nextUpdate time.Time) CRLOption {
	return func(l *x509.RevocationList) { l.ThisUpdate, l.NextUpdate = thisUpdate, nextUpdate }
}

// CRLNumber sets the CRL number (1 by default).
func CRLNumber(n int64) CRLOption {
	return func(l *x509.RevocationList) { l.Number = big.NewInt(n) }
}

// CRL returns a certificate revocation list signed by ca that revokes the
// given certificates, valid from an hour ago for a day unless options say
// otherwise. DER encoded.
func (ca *CA) CRL(revoked []*Cert, opts ...CRLOption) ([]byte, error) {
	now := time.Now()
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(1),
		ThisUpdate: now.Add(-time.Hour),
		NextUpdate: now.Add(24 * time.Hour),
	}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber:   c.Certificate.SerialNumber,
			RevocationTime: now.Add(-time.Minute),
		})
	}
	for _, o := range opts {
		o(tmpl)
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Certificate, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("authntest: create CRL: %w", err)
	}
	return der, nil
}

// CRLPEM is CRL, PEM encoded ("X509 CRL").
func (ca *CA) CRLPEM(revoked []*Cert, opts ...CRLOption) ([]byte, error) {
	der, err := ca.CRL(revoked, opts...)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
}

// CertOnlyPEM returns the certificate alone, PEM (for CA bundles).
func (c *Cert) CertOnlyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate.Raw})
}

// WriteCertFile writes the certificate alone (no chain, no key) to
// dir/name.pem and returns the path: a CA bundle for trust configuration.
func (c *Cert) WriteCertFile(dir, name string) (string, error) {
	p := filepath.Join(dir, name+".pem")
	return p, writeFile(p, c.CertOnlyPEM(), 0o644)
}

// WriteAtomically replaces path with data through a rename, as deployment
// tools do, so a watcher never reads a half-written file.
func WriteAtomically(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := writeFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
