package authn

import "fmt"

// BearerSchemeConfig is what a bearer scheme adds to schemes.<name>: the
// issuers whose JWTs it verifies and the key managers that validate its
// opaque tokens (an API definition may name them instead, with
// x-gatehouse-issuers / x-gatehouse-key-managers).
type BearerSchemeConfig struct {
	Issuers []string `json:"issuers"`
	// KeyManagers validate the scheme's opaque tokens;
	// IntrospectJWTs sends them JWTs no issuer of the scheme knows too.
	KeyManagers    []string `json:"key_managers"`
	IntrospectJWTs bool     `json:"introspect_jwts"`
}

func (b *BearerSchemeConfig) validate(ptr string, issuerKnown func(string) bool, add func(ptr, format string, args ...any)) {
	// No issuers here is fine when the API definitions name them
	// (x-gatehouse-issuers); the generation build checks that.
	for k, n := range b.Issuers {
		if !issuerKnown(n) {
			add(fmt.Sprintf("%s/issuers/%d", ptr, k), "unknown issuer %q", n)
		}
	}
}
