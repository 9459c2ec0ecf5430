# METADATA
# title: ACME's rules on top of the Gatehouse base policy
# description: |
#   An example user bundle. It never edits the base policy: it adds deny
#   rules (each element of the deny set denies, with its reason and an
#   optional status) and upstream headers in package gatehouse.custom, and
#   keeps its own facts under data.acme (data.json).
package gatehouse.custom

import data.gatehouse.authz

# Per-API condition, IP ranges: some operations are only for the office
# network (data.acme.office_only[api] lists operation ids).
deny contains {"reason": "outside_office_network", "status": 403} if {
	input.operation.id in object.get(data.acme.office_only, input.api.name, [])
	not from_office
}

from_office if {
	some cidr in data.acme.office_cidrs
	net.cidr_contains(cidr, input.request.client_ip)
}

# Per-API condition, time of day: changes only during business hours in the
# API's time zone (input.time is the request time in Unix nanoseconds).
deny contains {"reason": "outside_business_hours", "status": 403} if {
	hours := data.acme.business_hours[input.api.name]
	input.request.method in {"POST", "PUT", "PATCH", "DELETE"}
	not within(hours)
}

within(hours) if {
	hour := time.clock([input.time, hours.tz])[0]
	hour >= hours.start
	hour < hours.end
}

# Per-API condition, claims: the caller's token must carry these claims with
# these values (data.acme.required_claims[api]); callers without a token
# (Basic, client certificate) are not affected.
deny contains {"reason": "claim_mismatch", "status": 403, "message": sprintf("claim %s", [name])} if {
	required := data.acme.required_claims[input.api.name]
	authz.principal.type == "jwt"
	some name, want in required
	object.get(authz.principal.claims, name, null) != want
}

# Suspended applications are refused whatever their credentials.
deny contains {"reason": "application_suspended", "status": 403} if {
	authz.principal.client_id in data.acme.suspended_clients
}

# Upstream headers on allow: who the caller is, in ACME's terms.
headers["x-acme-subject"] := authz.principal.subject if authz.alternative >= 0

headers["x-acme-tenant"] := authz.principal.claims.tenant if authz.alternative >= 0
