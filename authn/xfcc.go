package authn

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Client certificates forwarded by a TLS-terminating load balancer arrive in
// a request header. Three formats are understood:
//
//   - "xfcc": Envoy's X-Forwarded-Client-Cert, elements of key=value pairs
//     (By, Hash, Cert, Chain, Subject, URI, DNS), Cert and Chain being
//     URL-encoded PEM;
//   - "pem": a URL-encoded PEM certificate (optionally followed by its
//     chain), as nginx's $ssl_client_escaped_cert, HAProxy or AWS ALB send
//     (X-SSL-Client-Cert, X-Amzn-Mtls-Clientcert); PEM whose line breaks a
//     proxy replaced by spaces or tabs is accepted too;
//   - "rfc9440": RFC 9440 Client-Cert (":base64 DER:") with the optional
//     Client-Cert-Chain list.
//
// These parsers read attacker-reachable input only when the gateway has
// already decided that the peer is a trusted proxy; still, they bound every
// size and never panic (fuzz targets in xfcc_fuzz_test.go).

// ErrForwardedCert is wrapped by every parse failure of a forwarded
// certificate header.
var ErrForwardedCert = errors.New("forwarded client certificate")

// Limits of forwarded certificate headers.
const (
	MaxForwardedCertHeader = 32 << 10
	MaxForwardedChain      = 8
)

// XFCCElement is one element of an X-Forwarded-Client-Cert header: what one
// proxy says about the client certificate it saw.
type XFCCElement struct {
	By      []string
	Hash    string // hex SHA-256 of the leaf's DER, as sent
	Cert    string // URL-decoded PEM of the leaf
	Chain   string // URL-decoded PEM of the chain (leaf first)
	Subject string
	URI     []string
	DNS     []string
}

// ParseXFCC parses an X-Forwarded-Client-Cert value into its elements. Keys
// are case-insensitive, unknown keys are ignored, values containing , ; or =
// should be double-quoted with \" escapes (an unquoted '=' is tolerated:
// base64 padding in a Cert that a proxy did not quote). Hash, Cert, Chain and Subject may appear
// once per element.
func ParseXFCC(v string) ([]XFCCElement, error) {
	if len(v) > MaxForwardedCertHeader {
		return nil, fmt.Errorf("%w: header longer than %d bytes", ErrForwardedCert, MaxForwardedCertHeader)
	}
	var out []XFCCElement
	var cur XFCCElement
	seen := map[string]bool{}
	i := 0
	for {
		// key
		j := i
		for j < len(v) && v[j] != '=' && v[j] != ';' && v[j] != ',' && v[j] != '"' {
			j++
		}
		if j >= len(v) || v[j] != '=' {
			return nil, fmt.Errorf("%w: XFCC pair at offset %d has no '='", ErrForwardedCert, i)
		}
		key := strings.ToLower(strings.TrimSpace(v[i:j]))
		if key == "" {
			return nil, fmt.Errorf("%w: XFCC pair at offset %d has an empty key", ErrForwardedCert, i)
		}
		i = j + 1
		// value
		var val string
		if i < len(v) && v[i] == '"' {
			var b strings.Builder
			i++
			closed := false
			for i < len(v) {
				c := v[i]
				if c == '\\' && i+1 < len(v) {
					b.WriteByte(v[i+1])
					i += 2
					continue
				}
				if c == '"' {
					closed = true
					i++
					break
				}
				b.WriteByte(c)
				i++
			}
			if !closed {
				return nil, fmt.Errorf("%w: unterminated quoted XFCC value", ErrForwardedCert)
			}
			val = b.String()
			if i < len(v) && v[i] != ';' && v[i] != ',' {
				return nil, fmt.Errorf("%w: garbage after a quoted XFCC value at offset %d", ErrForwardedCert, i)
			}
		} else {
			j := i
			for j < len(v) && v[j] != ';' && v[j] != ',' {
				if v[j] == '"' {
					return nil, fmt.Errorf("%w: unquoted XFCC value contains %q at offset %d", ErrForwardedCert, v[j], j)
				}
				j++
			}
			val = strings.TrimSpace(v[i:j])
			i = j
		}
		if err := cur.set(key, val, seen); err != nil {
			return nil, err
		}
		if i >= len(v) {
			out = append(out, cur)
			return out, nil
		}
		sep := v[i]
		i++
		if sep == ',' {
			out = append(out, cur)
			cur, seen = XFCCElement{}, map[string]bool{}
			if len(out) >= MaxForwardedChain {
				return nil, fmt.Errorf("%w: more than %d XFCC elements", ErrForwardedCert, MaxForwardedChain)
			}
		}
		for i < len(v) && v[i] == ' ' {
			i++
		}
		if i >= len(v) {
			return nil, fmt.Errorf("%w: XFCC value ends with a separator", ErrForwardedCert)
		}
	}
}

func (e *XFCCElement) set(key, val string, seen map[string]bool) error {
	once := func(dst *string) error {
		if seen[key] {
			return fmt.Errorf("%w: XFCC key %q appears twice in one element", ErrForwardedCert, key)
		}
		seen[key] = true
		*dst = val
		return nil
	}
	decode := func(dst *string) error {
		if err := once(dst); err != nil {
			return err
		}
		d, err := url.PathUnescape(val)
		if err != nil {
			return fmt.Errorf("%w: XFCC %s is not URL-encoded: %w", ErrForwardedCert, key, err)
		}
		*dst = d
		return nil
	}
	switch key {
	case "by":
		e.By = append(e.By, val)
	case "hash":
		return once(&e.Hash)
	case "cert":
		return decode(&e.Cert)
	case "chain":
		return decode(&e.Chain)
	case "subject":
		return once(&e.Subject)
	case "uri":
		e.URI = append(e.URI, val)
	case "dns":
		e.DNS = append(e.DNS, val)
	}
	return nil
}

// CertificatesFromXFCC returns the client certificate chain (leaf first) of
// an XFCC value written by the one trusted proxy in front of the gateway: it
// must hold exactly one element (several mean several hops, and which one
// describes the client is not ours to guess), that element must carry Cert,
// and a Hash, when present, must match it.
func CertificatesFromXFCC(v string) ([]*x509.Certificate, error) {
	els, err := ParseXFCC(v)
	if err != nil {
		return nil, err
	}
	if len(els) != 1 {
		return nil, fmt.Errorf("%w: %d XFCC elements; exactly one (from the trusted proxy) is accepted", ErrForwardedCert, len(els))
	}
	el := els[0]
	if el.Cert == "" {
		return nil, fmt.Errorf("%w: XFCC element has no Cert", ErrForwardedCert)
	}
	certs, err := parsePEMCertificates(el.Cert)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("%w: XFCC Cert holds %d certificates, want 1", ErrForwardedCert, len(certs))
	}
	leaf := certs[0]
	if el.Hash != "" {
		sum := sha256.Sum256(leaf.Raw)
		if !strings.EqualFold(el.Hash, hex.EncodeToString(sum[:])) {
			return nil, fmt.Errorf("%w: XFCC Hash does not match Cert", ErrForwardedCert)
		}
	}
	if el.Chain != "" {
		chain, err := parsePEMCertificates(el.Chain)
		if err != nil {
			return nil, err
		}
		if len(chain) > 0 && chain[0].Equal(leaf) {
			chain = chain[1:]
		}
		certs = append(certs, chain...)
	}
	if len(certs) > MaxForwardedChain {
		return nil, fmt.Errorf("%w: chain longer than %d certificates", ErrForwardedCert, MaxForwardedChain)
	}
	return certs, nil
}

// CertificatesFromPEMHeader returns the certificates (leaf first) of a
// URL-encoded PEM header value. Plain PEM whose newlines became spaces or
// tabs is accepted too. '+' is never decoded as a space (it is
// base64), except in the BEGIN/END lines of form-encoded values.
func CertificatesFromPEMHeader(v string) ([]*x509.Certificate, error) {
	if len(v) > MaxForwardedCertHeader {
		return nil, fmt.Errorf("%w: header longer than %d bytes", ErrForwardedCert, MaxForwardedCertHeader)
	}
	d, err := url.PathUnescape(strings.TrimSpace(v))
	if err != nil {
		return nil, fmt.Errorf("%w: not URL-encoded: %w", ErrForwardedCert, err)
	}
	// Encoders that write a space as '+' (form encoding) leave it in the
	// marker lines only: base64 '+' arrives as %2B from them.
	d = strings.ReplaceAll(d, "-----BEGIN+CERTIFICATE-----", pemBegin)
	d = strings.ReplaceAll(d, "-----END+CERTIFICATE-----", pemEnd)
	return parsePEMCertificates(d)
}

const (
	pemBegin = "-----BEGIN CERTIFICATE-----"
	pemEnd   = "-----END CERTIFICATE-----"
)

// parsePEMCertificates reads every CERTIFICATE block of s, tolerating any
// whitespace (or none) inside the base64 body. Anything but whitespace
// outside the blocks is an error.
func parsePEMCertificates(s string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		if s == "" {
			break
		}
		if !strings.HasPrefix(s, pemBegin) {
			return nil, fmt.Errorf("%w: not a PEM certificate", ErrForwardedCert)
		}
		s = s[len(pemBegin):]
		end := strings.Index(s, pemEnd)
		if end < 0 {
			return nil, fmt.Errorf("%w: PEM certificate without END line", ErrForwardedCert)
		}
		body := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, s[:end])
		s = s[end+len(pemEnd):]
		der, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return nil, fmt.Errorf("%w: PEM body is not base64: %w", ErrForwardedCert, err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrForwardedCert, err)
		}
		out = append(out, c)
		if len(out) > MaxForwardedChain {
			return nil, fmt.Errorf("%w: more than %d certificates", ErrForwardedCert, MaxForwardedChain)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no certificate", ErrForwardedCert)
	}
	return out, nil
}

// CertificatesFromRFC9440 returns the certificates of RFC 9440 headers:
// cert is the Client-Cert value (a structured-field byte sequence,
// ":base64:"), chain the Client-Cert-Chain value ("" when absent), a list
// of byte sequences.
func CertificatesFromRFC9440(cert, chain string) ([]*x509.Certificate, error) {
	if len(cert)+len(chain) > MaxForwardedCertHeader {
		return nil, fmt.Errorf("%w: headers longer than %d bytes", ErrForwardedCert, MaxForwardedCertHeader)
	}
	leaf, err := sfBinary(strings.TrimSpace(cert))
	if err != nil {
		return nil, err
	}
	out := []*x509.Certificate{leaf}
	if strings.TrimSpace(chain) == "" {
		return out, nil
	}
	for _, item := range strings.Split(chain, ",") {
		c, err := sfBinary(strings.TrimSpace(item))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		if len(out) > MaxForwardedChain {
			return nil, fmt.Errorf("%w: more than %d certificates", ErrForwardedCert, MaxForwardedChain)
		}
	}
	return out, nil
}

// sfBinary decodes one RFC 8941 byte sequence holding a DER certificate.
func sfBinary(s string) (*x509.Certificate, error) {
	if len(s) < 2 || s[0] != ':' || s[len(s)-1] != ':' {
		return nil, fmt.Errorf("%w: not a structured-field byte sequence", ErrForwardedCert)
	}
	der, err := base64.StdEncoding.DecodeString(s[1 : len(s)-1])
	if err != nil {
		return nil, fmt.Errorf("%w: byte sequence is not base64: %w", ErrForwardedCert, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrForwardedCert, err)
	}
	return c, nil
}

// FormatXFCC writes the XFCC element the gateway sends upstream for a
// verified client certificate: Hash, Subject, URI and DNS SANs (no Cert: the
// upstream gets the identity, not a credential it could replay elsewhere).
func FormatXFCC(c *Certificate) string {
	var b strings.Builder
	b.WriteString("Hash=")
	b.WriteString(c.FingerprintSHA256)
	b.WriteString(";Subject=")
	b.WriteString(xfccQuote(c.Subject))
	for _, u := range c.URIs {
		b.WriteString(";URI=")
		b.WriteString(xfccQuote(u))
	}
	for _, d := range c.DNSNames {
		b.WriteString(";DNS=")
		b.WriteString(xfccQuote(d))
	}
	return b.String()
}

// xfccQuote quotes a value when it contains a separator, a quote or a
// character that has no place in a header.
func xfccQuote(s string) string {
	if !strings.ContainsAny(s, ",;=\"\\") && printableASCII(s) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
