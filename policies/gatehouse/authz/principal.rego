# Principal: who the caller is.
#
# The principal is the identity document of ONE credential of the satisfied
# alternative, never fields mixed across credentials (so a subject is never
# paired with another credential's issuer). Precedence by identity type, the
# same as the gateway's upstream assertion: a token (jwt, opaque_token,
# api_key) over a client certificate (mtls) over basic (anything else last);
# equal ranks by scheme name. The gateway takes subject, issuer,
# source, client_id, application and scopes from it for the upstream
# assertion. Empty when the operation is public or the anonymous ({})
# alternative was the one satisfied.
package gatehouse.authz

type_rank := {"jwt": 0, "opaque_token": 0, "api_key": 0, "mtls": 1, "basic": 2}

# METADATA
# title: primary_scheme
# description: The scheme of the satisfied alternative whose credential is the principal.
primary_scheme := name if {
	alt := input.operation.security[alternative]
	count(alt) == 1
	some name, _ in alt
} else := ranked[1] if {
	ranked := min({[rank, name] |
		some name, _ in input.operation.security[alternative]
		rank := object.get(type_rank, input.credentials[name].type, 3)
	})
}

# METADATA
# title: principal
# description: The identity document of the primary credential; {} when none.
default principal := {}

principal := input.credentials[primary_scheme]
