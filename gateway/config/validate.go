package config

import (
	"fmt"

	shared "github.com/gatehouse/gatehouse/internal/config"
)

// check performs the semantic checks that need no other file.
func (c *Config) check() Errors {
	var errs Errors
	add := func(ptr, format string, args ...any) {
		errs = append(errs, &Error{File: c.Path, Pointer: ptr, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Runtime.MemoryLimit != "" {
		if _, err := ParseMemoryLimit(c.Runtime.MemoryLimit); err != nil {
			add("/runtime/memory_limit", "%v", err)
		}
	}
	if c.Listen.TLS == nil && c.Listen.HTTPAddress == "" {
		add("/listen", "no listener: set listen.tls (HTTPS) or listen.http_address (plain HTTP)")
	}
	issuers := map[string]int{}
	for i, is := range c.Issuers {
		ptr := fmt.Sprintf("/issuers/%d", i)
		if j, dup := issuers[is.Name]; dup {
			add(ptr+"/name", "issuer name %q is already used by /issuers/%d", is.Name, j)
		}
		issuers[is.Name] = i
		is.Validate(ptr, add)
	}
	issuerKnown := func(n string) bool { _, ok := issuers[n]; return ok }
	for name, s := range c.Schemes {
		s.Validate("/schemes/"+escapePointer(name), issuerKnown, add)
	}
	errs = append(errs, c.checkBundles()...)
	c.checkAPIKeys(add)
	c.checkKeyManagers(add)
	c.checkDPoP(add)
	c.checkInternalKM(add)
	c.checkMTLS(add)
	if c.RateLimits != nil {
		c.RateLimits.Check(add)
	}
	if c.Tracing != nil {
		c.Tracing.Check(add)
	}
	for i, a := range c.APIs {
		if a.CORS != nil {
			a.CORS.Check(fmt.Sprintf("/apis/%d/cors", i), add)
		}
	}
	c.checkFrontDoors(add)
	c.checkCredentialsOverHTTP(add)
	return errs
}

// resolvePath anchors a relative path at dir.
func resolvePath(dir, p string) string { return shared.ResolvePath(dir, p) }

// File resolves a path from the config against the config's directory.
func (c *Config) File(p string) string { return resolvePath(c.Dir, p) }

func escapePointer(s string) string { return shared.EscapePointer(s) }
