# API key restrictions.
#
# A verified API key (an identity of type api_key, issued by the gateway's
# token service or listed in data.gatehouse.static_api_keys) may call only the
# APIs it lists in apis. An element allows the API being called when its name
# is the API's name, or "*" (every API), and its version is absent, empty or
# the API's version. Every API key presented for the operation is checked,
# whether the satisfied alternative uses it or not (as revocation is), so a
# key for another API never rides along. Otherwise: api_not_allowed (403).
#
# Revocation (jti denylist) and subscriptions apply to API keys as to any
# credential: token_id is the key's jti (or a static key's id), application
# the application it was issued to.
package gatehouse.authz

deny_reasons contains "api_not_allowed" if {
	some cred in input.credentials
	cred.type == "api_key"
	not api_key_allowed(cred)
}

# A key without an apis list allows nothing (fail closed). Written as
# separate bodies with equality, not `in` over a set literal: the decision
# runs on every request, and a set literal is built on each evaluation.
api_key_allowed(cred) if {
	some ref in cred.apis
	ref.name == input.api.name
	api_version_matches(ref)
}

api_key_allowed(cred) if {
	some ref in cred.apis
	ref.name == "*"
	api_version_matches(ref)
}

api_version_matches(ref) if object.get(ref, "version", "") == ""

api_version_matches(ref) if ref.version == input.api.version
