package authntest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// KeyType is the kind of key a certificate or signer is generated with.
type KeyType string

// Key types. ECDSAP256 is the default for certificates.
const (
	ECDSAP256 KeyType = "ecdsa-p256"
	ECDSAP384 KeyType = "ecdsa-p384"
	RSA2048   KeyType = "rsa-2048"
	RSA3072   KeyType = "rsa-3072"
	Ed25519   KeyType = "ed25519"
)

// GenerateKey returns a new private key of type kt.
func GenerateKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case "", ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("authntest: unknown key type %q", kt)
}

// CertOption adjusts a certificate before it is issued. Options apply after
// the defaults of the kind of certificate (CA, server, client), so they can
// also produce wrong certificates on purpose (a server EKU on a client
// certificate, an expired CA).
type CertOption func(*certSpec)

type certSpec struct {
	keyType   KeyType
	key       crypto.Signer
	notBefore time.Time
	notAfter  time.Time
	eku       []x509.ExtKeyUsage
	isCA      bool
	cn        string
	org       []string
	dns       []string
	ips       []net.IP
	uris      []*url.URL
	emails    []string
	err       error
}

// WithKeyType sets the key type (ECDSAP256 by default).
func WithKeyType(kt KeyType) CertOption { return func(s *certSpec) { s.keyType = kt } }

// WithKey issues the certificate for an existing key.
func WithKey(k crypto.Signer) CertOption { return func(s *certSpec) { s.key = k } }

// WithValidity sets the validity window.
func WithValidity(notBefore, notAfter time.Time) CertOption {
	return func(s *certSpec) { s.notBefore, s.notAfter = notBefore, notAfter }
}

// Expired makes a certificate that expired a day ago.
func Expired() CertOption {
	return func(s *certSpec) {
		now := time.Now()
		s.notBefore, s.notAfter = now.Add(-48*time.Hour), now.Add(-24*time.Hour)
	}
}

// NotYetValid makes a certificate that becomes valid tomorrow.
func NotYetValid() CertOption {
	return func(s *certSpec) {
		now := time.Now()
		s.notBefore, s.notAfter = now.Add(24*time.Hour), now.Add(48*time.Hour)
	}
}

// WithEKU replaces the extended key usages (none at all when called without
// arguments).
func WithEKU(eku ...x509.ExtKeyUsage) CertOption {
	return func(s *certSpec) { s.eku = eku }
}

// WithIsCA sets the basic constraint CA flag.
func WithIsCA(isCA bool) CertOption { return func(s *certSpec) { s.isCA = isCA } }

// WithCommonName sets the subject CN.
func WithCommonName(cn string) CertOption { return func(s *certSpec) { s.cn = cn } }

// WithOrganization sets the subject O.
func WithOrganization(org ...string) CertOption { return func(s *certSpec) { s.org = org } }

// WithHosts sets DNS and IP SANs (each host goes to the right list).
func WithHosts(hosts ...string) CertOption {
	return func(s *certSpec) {
		s.dns, s.ips = nil, nil
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				s.ips = append(s.ips, ip)
			} else {
				s.dns = append(s.dns, h)
			}
		}
	}
}

// WithURIs sets URI SANs (e.g. SPIFFE IDs).
func WithURIs(uris ...string) CertOption {
	return func(s *certSpec) {
		s.uris = nil
		for _, u := range uris {
			p, err := url.Parse(u)
			if err != nil {
				s.err = fmt.Errorf("authntest: URI SAN %q: %w", u, err)
				return
			}
			s.uris = append(s.uris, p)
		}
	}
}

// WithEmails sets email SANs.
func WithEmails(emails ...string) CertOption { return func(s *certSpec) { s.emails = emails } }

// DefaultHosts are the SANs of a server certificate issued without hosts.
var DefaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// Cert is an issued certificate with its private key and the intermediates
// between it and its root (root excluded).
type Cert struct {
	Certificate *x509.Certificate
	Key         crypto.Signer
	Chain       []*x509.Certificate
}

// CA is a certificate authority: a root (NewCA) or an intermediate
// (CA.Intermediate).
type CA struct {
	*Cert
	parent *CA
}

// NewCA returns a self-signed root CA (ECDSA P-256, valid from an hour ago
// for a year, unless options say otherwise).
func NewCA(opts ...CertOption) (*CA, error) {
	now := time.Now()
	spec := certSpec{isCA: true, cn: "Gatehouse Test Root CA", org: []string{"Gatehouse test"},
		notBefore: now.Add(-time.Hour), notAfter: now.Add(365 * 24 * time.Hour)}
	c, err := issue(nil, spec, opts)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: c}, nil
}

// Intermediate returns an intermediate CA signed by ca.
func (ca *CA) Intermediate(opts ...CertOption) (*CA, error) {
	now := time.Now()
	spec := certSpec{isCA: true, cn: "Gatehouse Test Intermediate CA", org: []string{"Gatehouse test"},
		notBefore: now.Add(-time.Hour), notAfter: now.Add(180 * 24 * time.Hour)}
	c, err := issue(ca, spec, opts)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: c, parent: ca}, nil
}

// Server issues a server certificate (serverAuth) for hosts, DefaultHosts
// when none are given.
func (ca *CA) Server(hosts ...string) (*Cert, error) {
	return ca.ServerWith(hosts)
}

// ServerWith issues a server certificate for hosts with options.
func (ca *CA) ServerWith(hosts []string, opts ...CertOption) (*Cert, error) {
	if len(hosts) == 0 {
		hosts = DefaultHosts
	}
	spec := leafSpec(hosts[0], x509.ExtKeyUsageServerAuth)
	return issue(ca, spec, append([]CertOption{WithHosts(hosts...)}, opts...))
}

// Client issues a client certificate (clientAuth) with subject CN cn.
func (ca *CA) Client(cn string, opts ...CertOption) (*Cert, error) {
	return issue(ca, leafSpec(cn, x509.ExtKeyUsageClientAuth), opts)
}

// Issue issues a leaf certificate with no extended key usage unless options
// give one.
func (ca *CA) Issue(opts ...CertOption) (*Cert, error) {
	spec := leafSpec("gatehouse test leaf")
	return issue(ca, spec, opts)
}

func leafSpec(cn string, eku ...x509.ExtKeyUsage) certSpec {
	now := time.Now()
	return certSpec{cn: cn, org: []string{"Gatehouse test"}, eku: eku,
		notBefore: now.Add(-time.Hour), notAfter: now.Add(30 * 24 * time.Hour)}
}

// Parent returns the CA that signed ca, nil for a root.
func (ca *CA) Parent() *CA { return ca.parent }

// Root returns the root of ca's chain.
func (ca *CA) Root() *CA {
	for ca.parent != nil {
		ca = ca.parent
	}
	return ca
}

// Pool returns a pool holding ca's own certificate as trust anchor.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Certificate)
	return p
}

// RootPool returns a pool holding the root of ca's chain.
func (ca *CA) RootPool() *x509.CertPool { return ca.Root().Pool() }

var serialLimit = new(big.Int).Lsh(big.NewInt(1), 127)

func issue(parent *CA, spec certSpec, opts []CertOption) (*Cert, error) {
	for _, o := range opts {
		o(&spec)
	}
	if spec.err != nil {
		return nil, spec.err
	}
	key := spec.key
	if key == nil {
		var err error
		if key, err = GenerateKey(spec.keyType); err != nil {
			return nil, err
		}
	}
	serial, err := rand.Int(rand.Reader, serialLimit)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: spec.cn, Organization: spec.org},
		NotBefore:             spec.notBefore,
		NotAfter:              spec.notAfter,
		ExtKeyUsage:           spec.eku,
		BasicConstraintsValid: true,
		IsCA:                  spec.isCA,
		DNSNames:              spec.dns,
		IPAddresses:           spec.ips,
		URIs:                  spec.uris,
		EmailAddresses:        spec.emails,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	if spec.isCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else if _, isRSA := key.(*rsa.PrivateKey); isRSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	signerCert, signerKey := tmpl, key
	var chain []*x509.Certificate
	if parent != nil {
		signerCert, signerKey = parent.Certificate, parent.Key
		if parent.parent != nil {
			chain = append([]*x509.Certificate{parent.Certificate}, parent.Chain...)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signerKey)
	if err != nil {
		return nil, fmt.Errorf("authntest: create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Cert{Certificate: cert, Key: key, Chain: chain}, nil
}

// TLS returns the certificate, its chain and key for a tls.Config.
func (c *Cert) TLS() tls.Certificate {
	tc := tls.Certificate{Certificate: [][]byte{c.Certificate.Raw}, PrivateKey: c.Key, Leaf: c.Certificate}
	for _, ic := range c.Chain {
		tc.Certificate = append(tc.Certificate, ic.Raw)
	}
	return tc
}

// CertPEM returns the certificate followed by its intermediates, PEM.
func (c *Cert) CertPEM() []byte {
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate.Raw})
	for _, ic := range c.Chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ic.Raw})...)
	}
	return out
}

// KeyPEM returns the private key, PKCS#8 PEM.
func (c *Cert) KeyPEM() ([]byte, error) { return PrivateKeyPEM(c.Key) }

// PublicKeyPEM returns the public key, PKIX PEM.
func (c *Cert) PublicKeyPEM() ([]byte, error) { return PublicKeyPEM(c.Key.Public()) }

// Thumbprint returns the base64url SHA-256 of the certificate's DER: the
// RFC 8705 cnf "x5t#S256" value, and the JWK x5t#S256.
func (c *Cert) Thumbprint() string {
	sum := sha256.Sum256(c.Certificate.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// WriteFiles writes <name>.pem (certificate and chain, 0644) and
// <name>-key.pem (private key, 0600) into dir and returns their paths.
func (c *Cert) WriteFiles(dir, name string) (certFile, keyFile string, err error) {
	keyPEM, err := c.KeyPEM()
	if err != nil {
		return "", "", err
	}
	certFile = filepath.Join(dir, name+".pem")
	keyFile = filepath.Join(dir, name+"-key.pem")
	if err := writeFile(certFile, c.CertPEM(), 0o644); err != nil {
		return "", "", err
	}
	if err := writeFile(keyFile, keyPEM, 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// writeFile writes data with exactly mode perm, also when the file exists.
func writeFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// PrivateKeyPEM encodes a private key as PKCS#8 PEM.
func PrivateKeyPEM(k crypto.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PublicKeyPEM encodes a public key as PKIX PEM.
func PublicKeyPEM(k crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
