// Package config holds the value types every section of the gateway's
// configuration file shares: durations written as Go duration strings,
// env:/file: references to secrets, and errors that point at a JSON pointer
// in the file. It is a leaf package so that each subsystem can own its
// config section (its YAML struct, defaults and checks) without importing
// the whole gateway configuration.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/redact"
)

// Duration is a time.Duration written as a Go duration string ("10s").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"10s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON renders the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// SetDefault sets an unset (zero) duration to def.
func SetDefault(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

// OptionalTTL maps an optional cache TTL setting onto the convention of the
// caches it configures: unset is 0 (the cache's default), 0s is -1
// (disabled), anything else itself.
func OptionalTTL(d *Duration) time.Duration {
	switch {
	case d == nil:
		return 0
	case *d == 0:
		return -1
	}
	return d.D()
}

// Secret is a reference to a secret: env:NAME or file:PATH. The reference is
// safe to print; the value is only ever held as redact.Redacted
// (authn.Redacted).
type Secret string

// ErrSecret is wrapped by every secret resolution failure.
var ErrSecret = errors.New("secret unavailable")

// Resolve reads the secret. Relative file paths are resolved against dir.
func (s Secret) Resolve(dir string) (redact.Redacted, error) {
	ref := string(s)
	switch {
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return "", fmt.Errorf("%w: environment variable %s is not set", ErrSecret, name)
		}
		return redact.Redacted(v), nil
	case strings.HasPrefix(ref, "file:"):
		p := ResolvePath(dir, strings.TrimPrefix(ref, "file:"))
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrSecret, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("%w: file %s is empty", ErrSecret, p)
		}
		return redact.Redacted(v), nil
	default:
		return "", fmt.Errorf("%w: %q is not an env:NAME or file:PATH reference", ErrSecret, ref)
	}
}

// Error is a configuration problem at a JSON pointer in the file.
type Error struct {
	File    string
	Pointer string // JSON pointer, "" for the whole document
	Msg     string
}

func (e *Error) Error() string {
	ptr := e.Pointer
	if ptr == "" {
		ptr = "/"
	}
	return fmt.Sprintf("%s: %s: %s", e.File, ptr, e.Msg)
}

// Errors collects every problem found, so users fix them all at once.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.As find each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// ResolvePath anchors a relative path at dir.
func ResolvePath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// ResolvePaths is ResolvePath for each of ps, in order.
func ResolvePaths(dir string, ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = ResolvePath(dir, p)
	}
	return out
}

// EscapePointer escapes one JSON pointer segment (RFC 6901).
func EscapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// ParsePrefix reads a trusted proxy: a CIDR or a single address.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("trusted proxy %q is not an address or CIDR", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("trusted proxy %q is not an address or CIDR", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// KeyError is an error about one config key — the file, secret or issuer it
// names — rather than about the operation that happened to use it first.
// The gateway reports it under that key's JSON pointer, once, instead of
// once per operation under /apis/N.
type KeyError struct {
	Pointer string
	Err     error
}

func (e *KeyError) Error() string { return e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// AtKey places err at the config key ptr (a JSON pointer); with ptr empty
// it returns err as is.
func AtKey(ptr string, err error) error {
	if ptr == "" {
		return err
	}
	return &KeyError{Pointer: ptr, Err: err}
}

// LoadCAPool reads PEM CA files (relative paths anchored at dir) into a
// pool; a file without a certificate is an error. Callers prefix the
// config key.
func LoadCAPool(dir string, files []string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, f := range files {
		pem, err := os.ReadFile(ResolvePath(dir, f))
		if err != nil {
			return nil, err
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", f)
		}
	}
	return pool, nil
}

// TLS names a server certificate and key file (a listener's tls block).
type TLS struct {
	CertFile   string `json:"cert_file"`
	KeyFile    string `json:"key_file"`
	MinVersion string `json:"min_version"`
}

// LoadServerTLS builds the server TLS configuration of a listener from its
// tls block (relative paths anchored at dir).
func LoadServerTLS(dir string, t *TLS) (*tls.Config, error) {
	c, err := tls.LoadX509KeyPair(ResolvePath(dir, t.CertFile), ResolvePath(dir, t.KeyFile))
	if err != nil {
		return nil, err
	}
	min := uint16(tls.VersionTLS12)
	if t.MinVersion == "1.3" {
		min = tls.VersionTLS13
	}
	return &tls.Config{MinVersion: min, Certificates: []tls.Certificate{c}}, nil
}

// LoopbackAddress reports whether a host:port listens on loopback only
// (localhost or a loopback IP).
func LoopbackAddress(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
