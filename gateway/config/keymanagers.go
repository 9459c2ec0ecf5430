package config

import "fmt"

// applyKeyManagerDefaults fills in each key manager's defaults
// (authn.KeyManagerConfig.SetDefaults).
func (c *Config) applyKeyManagerDefaults() {
	for i := range c.KeyManagers {
		c.KeyManagers[i].SetDefaults()
	}
}

// keyManagerNames returns the names bearer schemes may list: the external
// key managers and the internal one.
func (c *Config) keyManagerNames() map[string]bool {
	names := map[string]bool{}
	for _, km := range c.KeyManagers {
		names[km.Name] = true
	}
	if ik := c.InternalKeyManager; ik != nil {
		names[ik.Name] = true
	}
	return names
}

// checkKeyManagers performs the semantic checks of key_managers and of the
// schemes' key_managers / introspect_jwts.
func (c *Config) checkKeyManagers(add func(ptr, format string, args ...any)) {
	issuers := map[string]bool{}
	for _, is := range c.Issuers {
		issuers[is.Name] = true
	}
	seen := map[string]int{}
	if ik := c.InternalKeyManager; ik != nil {
		seen[ik.Name] = -1
	}
	for i, km := range c.KeyManagers {
		ptr := fmt.Sprintf("/key_managers/%d", i)
		if j, dup := seen[km.Name]; dup {
			other := "/internal_key_manager"
			if j >= 0 {
				other = fmt.Sprintf("/key_managers/%d", j)
			}
			add(ptr+"/name", "key manager name %q is already used by %s", km.Name, other)
		}
		seen[km.Name] = i
		if issuers[km.Name] {
			add(ptr+"/name", "key manager name %q is also an issuer name: identity sources must be unique", km.Name)
		}
		km.Validate(ptr, add)
	}
	names := c.keyManagerNames()
	for name, s := range c.Schemes {
		ptr := "/schemes/" + escapePointer(name)
		if s.Type != SchemeBearer {
			if len(s.KeyManagers) > 0 || s.IntrospectJWTs {
				add(ptr, "key_managers and introspect_jwts only apply to bearer schemes")
			}
			continue
		}
		for k, n := range s.KeyManagers {
			if !names[n] {
				add(fmt.Sprintf("%s/key_managers/%d", ptr, k), "unknown key manager %q", n)
			}
		}
	}
}
