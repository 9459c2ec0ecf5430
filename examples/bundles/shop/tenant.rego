# Claim equality.
#
# Tokens are issued for several tenants by one issuer; this shop serves
# one (data.shop.tenant), and only tokens whose tenant claim equals it.
# Callers without a token (public operations) are not affected.
package gatehouse.custom

import data.gatehouse.authz

deny contains {"reason": "wrong_tenant", "status": 403} if {
	authz.principal.type == "jwt"
	object.get(authz.principal.claims, "tenant", null) != data.shop.tenant
}
