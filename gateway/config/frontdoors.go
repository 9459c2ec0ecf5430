package config

import (
	"fmt"

	"github.com/gatehouse/gatehouse/gateway/frontdoor"
)

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

func (c *Config) checkFrontDoors(add func(ptr, format string, args ...any)) {
	for ptr, fd := range map[string]*FrontDoorConfig{"/listen/ext_authz": c.Listen.ExtAuthz, "/listen/forward_auth": c.Listen.ForwardAuth} {
		if fd == nil {
			continue
		}
		if fd.Address == "" {
			add(ptr+"/address", "a front door needs address (host:port)")
		}
		if len(fd.TrustedProxies) == 0 {
			add(ptr+"/trusted_proxies", "list the proxies (addresses or CIDRs) that may call this front door")
		}
		for i, p := range fd.TrustedProxies {
			if _, err := frontdoor.ParsePeers([]string{p}); err != nil {
				add(fmt.Sprintf("%s/trusted_proxies/%d", ptr, i), "%v", err)
			}
		}
		if fd.TLS == nil && fd.Address != "" && !loopbackAddress(fd.Address) {
			add(ptr+"/tls", "a front door on a non-loopback address needs tls: credentials cross it")
		}
		if fd.TLS == nil && len(fd.ClientCAFiles) > 0 {
			add(ptr+"/client_ca_files", "client certificates need tls")
		}
	}
}
