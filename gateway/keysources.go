package gateway

import (
	"sort"

	"github.com/gatehouse/gatehouse/authn"
)

// jwksStatus reports the generation's remote key sources, sorted by issuer,
// and the names of those without a usable key set.
func (g *Generation) jwksStatus() (all []authn.JWKSStatus, unavailable []string) {
	for _, s := range g.jwks {
		st := s.Status()
		all = append(all, st)
		if !st.Available {
			unavailable = append(unavailable, st.Issuer)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Issuer < all[j].Issuer })
	sort.Strings(unavailable)
	return all, unavailable
}

// addIssuerStatus adds the remote issuers to a /readyz body. An issuer
// without keys makes the status "degraded", not "not_ready": the other
// issuers, and every other scheme, keep serving (one issuer's outage never
// takes the gateway out of a load balancer).
func addIssuerStatus(body map[string]any, g *Generation) {
	all, unavailable := g.jwksStatus()
	if len(all) == 0 {
		return
	}
	body["issuers"] = all
	if len(unavailable) > 0 {
		body["unavailable_issuers"] = unavailable
		body["status"] = "degraded"
	}
}
