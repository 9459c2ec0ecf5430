# Certificate-bound access tokens (RFC 8705).
#
# A credential whose identity carries a confirmation (the token's cnf
# x5t#S256) is accepted only on a request that presents that very client
# certificate (input.request.client_certificate.x5t_s256), so a stolen token
# is useless without the key of its certificate. Every presented credential
# is checked, used by the satisfied alternative or not (as revocation is).
#
# data.gatehouse.config.require_certificate_binding[<api name>] == true also
# requires every token (jwt, opaque_token) of the satisfied alternative to be
# bound. Either way: binding_required (401, error="invalid_token").
package gatehouse.authz

deny_reasons contains "binding_required" if {
	some cred in input.credentials

	# `!= false` holds exactly when the bare `cred.confirmation` would
	# (defined, not false), for 4 allocations less on every request.
	cred.confirmation != false
	not bound_to_presented_certificate(cred)
}

# The helper, rather than `not cred.confirmation == input...x5t_s256`: without
# a certificate the right side is undefined, and the comparison must then
# count as unbound.
bound_to_presented_certificate(cred) if {
	cred.confirmation == input.request.client_certificate.x5t_s256
}

deny_reasons contains "binding_required" if {
	data.gatehouse.config.require_certificate_binding[input.api.name] == true
	alternative >= 0
	some name in schemes
	cred := input.credentials[name]
	cred.type in {"jwt", "opaque_token"}
	not cred.confirmation
}
