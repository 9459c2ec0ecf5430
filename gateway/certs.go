package gateway

import (
	"crypto/tls"
	"crypto/x509"

	"github.com/gatehouse/gatehouse/gateway/config"
	shared "github.com/gatehouse/gatehouse/internal/config"
)

// loadCAPool reads PEM CA files (relative to the config) into a pool; a
// file without a certificate is an error. Callers prefix the config key.
func loadCAPool(cfg *config.Config, files []string) (*x509.CertPool, error) {
	return shared.LoadCAPool(cfg.Dir, files)
}

// loadServerTLS builds the server TLS configuration of a dedicated
// listener from its tls section (built once per generation, handed to
// every handshake).
func loadServerTLS(cfg *config.Config, t *config.TLSConfig) (*tls.Config, error) {
	return shared.LoadServerTLS(cfg.Dir, t)
}
