package gateway

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// certHolder serves the current server certificate to new handshakes and
// swaps it on reload; established connections keep theirs.
type certHolder struct {
	cur atomic.Pointer[tls.Certificate]
}

func newCertHolder(certFile, keyFile string) (*certHolder, error) {
	h := &certHolder{}
	if err := h.reload(certFile, keyFile); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *certHolder) reload(certFile, keyFile string) error {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("server certificate: %w", err)
	}
	h.cur.Store(&c)
	return nil
}

func (h *certHolder) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return h.cur.Load(), nil
}
