package config

// FrontDoorConfig is the listener of a front door for another proxy:
// listen.ext_authz (Envoy's gRPC Authorization service) or
// listen.forward_auth (the HTTP endpoints for NGINX, Caddy, Traefik and
// Envoy's HTTP ext_authz). The facts such a caller sends (method, target,
// headers, the client's certificate) are its word, so only trusted_proxies
// may call, optionally also proving who they are with a client certificate
// from client_ca_files. Listener settings apply at start; changing them
// needs a restart.
type FrontDoorConfig struct {
	Address        string     `json:"address"`
	TLS            *TLSConfig `json:"tls"`
	ClientCAFiles  []string   `json:"client_ca_files"`
	TrustedProxies []string   `json:"trusted_proxies"`
}
