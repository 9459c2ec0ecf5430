// Package config is the gateway's one configuration file: the Config type
// and the sections only the gateway wiring reads. The value types every
// section shares (durations, secrets, JSON-pointer errors, TLS files) are
// internal/config's; the sections a subsystem owns live beside it
// (authn, authn/apikeys, authn/keymanager, bundles, gateway/assertion,
// gateway/edge, gateway/ratelimit, gateway/tracing, gateway/openapi).
package config

import shared "github.com/gatehouse/gatehouse/internal/config"

// The shared value types, under the names this package's sections use.
type (
	// Duration is a time.Duration written as a Go duration string ("10s").
	Duration = shared.Duration
	// Secret is a reference to a secret: env:NAME or file:PATH.
	Secret = shared.Secret
	// TLSConfig names the server certificate and key files.
	TLSConfig = shared.TLS
)
