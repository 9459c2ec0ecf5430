package config

// checkCredentialsOverHTTP refuses a plain HTTP listener in front of schemes
// whose credentials a client sends in the clear (passwords, API keys, bearer
// tokens) unless the operator says that listener only ever sees traffic that
// was encrypted up to a TLS-terminating balancer next to it.
func (c *Config) checkCredentialsOverHTTP(add func(ptr, format string, args ...any)) {
	if c.Listen.HTTPAddress == "" || c.Listen.AllowCredentialsOverHTTP {
		return
	}
	for name, s := range c.Schemes {
		switch s.Type {
		case SchemeBasic, SchemeAPIKey, SchemeBearer:
			add("/listen/http_address", "scheme %q (%s) would take credentials over plain HTTP on %s: serve it over listen.tls, "+
				"or set listen.allow_credentials_over_http: true if only a TLS-terminating balancer on this host or network reaches it",
				name, s.Type, c.Listen.HTTPAddress)
			return
		}
	}
}
