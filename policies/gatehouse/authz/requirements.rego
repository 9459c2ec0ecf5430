# Security requirements.
#
# Which alternative of input.operation.security the presented credentials
# satisfy, and why none does. Alternatives are ORed; the schemes inside one are
# ANDed; each scheme's required scopes are checked against that scheme's own
# credential. Override semantics (operation over document) are resolved by the
# gateway: the input already carries the effective requirements.
package gatehouse.authz

# METADATA
# title: public
# description: The operation was declared public (security is []), so no authentication ran.
public if input.operation.public == true

# scope_mode "any" (WSO2 style): one listed scope is enough. Anything else,
# including a missing or misspelt mode, is the stricter OpenAPI "all".
scope_mode_any if input.operation.scope_mode == "any"

# Scope mode "all": the credential lacks one of the required scopes. A
# credential without a scopes list lacks every scope. (object.get, because
# Rego evaluates the arguments of a call before `not`: `not s in cred.scopes`
# would be false, not true, when cred.scopes is undefined.)
lacks_scope(cred, required) if {
	some s in required
	not s in object.get(cred, "scopes", [])
}

# Scope mode "all": some scheme of the alternative has no credential, or its
# credential lacks a required scope.
unmet(alt) if {
	some name, _ in alt
	not input.credentials[name]
}

unmet(alt) if {
	some name, required in alt
	lacks_scope(input.credentials[name], required)
}

# Scope mode "any": the credential holds one of the required scopes, or none
# is required.
holds_any_scope(_, required) if count(required) == 0

holds_any_scope(cred, required) if {
	some s in required
	s in cred.scopes
}

# METADATA
# title: satisfied
# description: |
#   Indexes of the non-empty alternatives whose every scheme has a verified
#   credential carrying the scopes that scheme requires (in the operation's
#   scope mode). The bodies compare the mode themselves (as scope_mode_any
#   does) so that OPA's rule index skips the body of the other mode.
satisfied contains i if {
	not input.operation.scope_mode == "any"
	some i, alt in input.operation.security
	count(alt) > 0
	not unmet(alt)
}

satisfied contains i if {
	input.operation.scope_mode == "any"
	some i, alt in input.operation.security
	count(alt) > 0
	every name, required in alt {
		cred := input.credentials[name]
		holds_any_scope(cred, required)
	}
}

# METADATA
# title: alternative
# description: |
#   Index in operation.security of the satisfied alternative: the first one
#   that names at least one scheme, else the first anonymous ({}) one, else -1.
#   Preferring credentials over {} keeps the caller's identity when
#   authentication is optional.
default alternative := -1

alternative := min(satisfied)

alternative := i if {
	count(satisfied) == 0
	some i, alt in input.operation.security
	count(alt) == 0
	not anonymous_before(i)
}

anonymous_before(i) if {
	some j, alt in input.operation.security
	j < i
	count(alt) == 0
}

# An alternative all of whose schemes have a verified credential, scopes aside.
present(alt) if {
	every name, _ in alt {
		input.credentials[name]
	}
}

has_requirements if count(input.operation.security) > 0

# Indexes of the alternatives all of whose credentials were presented.
present_alternatives contains i if {
	some i, alt in input.operation.security
	present(alt)
}

any_present if count(present_alternatives) > 0

# METADATA
# title: invalid_credentials
# description: |
#   A credential was presented and rejected for a reason other than revoked.
#   It never falls through to another alternative unless
#   data.gatehouse.config.allow_fallthrough[input.api.name] is true (and
#   another alternative is satisfied).
invalid_credentials if {
	some r in input.rejections
	not r.reason == "revoked"
	not fallthrough
}

fallthrough if {
	data.gatehouse.config.allow_fallthrough[input.api.name] == true
	alternative >= 0
}

# METADATA
# title: authn_reason
# description: |
#   The one authentication reason a non-public operation is denied for, most
#   specific first; undefined when an alternative is satisfied and no
#   credential is revoked or invalid.
authn_reason := "no_security_requirement" if {
	not has_requirements
} else := "revoked" if {
	revoked
} else := "credentials_invalid" if {
	invalid_credentials
} else := "credentials_missing" if {
	not any_present
} else := "insufficient_scope" if {
	alternative < 0
}

# METADATA
# title: required_scopes
# description: |
#   For insufficient_scope: the scopes of the first alternative (in
#   declaration order) whose credentials were all presented, sorted, for the
#   RFC 6750 challenge.
required_scopes := sort({s |
	some required in input.operation.security[min(present_alternatives)]
	some s in required
})

# METADATA
# title: schemes
# description: The scheme names of the satisfied alternative, sorted; empty when none.
default schemes := []

schemes := sort(object.keys(input.operation.security[alternative]))

# METADATA
# title: rejected
# description: |
#   scheme -> rejection reason, for the 401 challenge; empty on public
#   operations (no authentication runs there).
default rejected := {}

rejected := {name: r.reason | some name, r in input.rejections} if {
	count(input.rejections) > 0
	not public
}
