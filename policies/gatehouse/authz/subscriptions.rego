# Subscriptions.
#
# A credential whose issuer (or key manager) has subscription validation on
# carries subscription_validation: true in its identity document. Its
# application must then be subscribed to the API being called. Applications
# are qualified by their identity source (the configured issuer, key
# manager, API-key service or API whose client certificates verified the
# credential: identity.source), because an application id is only unique
# within the trust domain that issued it: a client registered at one
# issuer as "pets-client" is not the "pets-client" of another.
#
#   data.gatehouse.subscriptions[<source>][<application>] = [
#     {"api": "petstore", "version": "1.0.0", "plan": "gold"},
#     {"api": "orders"},   # no version (or ""): every version
#   ]
#
# Otherwise the request is denied with subscription_required (403). A
# credential without a source or an application is never subscribed (fail
# closed), and neither is one looked up in data of the old flat shape
# (subscriptions[<application>] = [...], refused when the bundle loads:
# docs/migrating-bundle-data.md). Every presented credential is checked,
# whether the satisfied alternative uses it or not (as revocation and
# API-key restrictions are). Credentials without subscription_validation
# are not affected. data.gatehouse.applications[<source>][<application>]
# describes the applications (name, owner…) for users' own rules; it plays
# no part here.
package gatehouse.authz

deny_reasons contains "subscription_required" if {
	some cred in input.credentials
	cred.subscription_validation == true
	not subscribed(cred)
}

subscribed(cred) if subscription_of(cred)

# subscription_of(cred) is the subscription that lets cred's application call
# this API (the first listed, when several do).
subscription_of(cred) := subs[i] if {
	subs := data.gatehouse.subscriptions[cred.source][cred.application]
	is_array(subs)
	i := min({j |
		some j, s in subs
		subscription_matches(s)
	})
}

subscription_matches(s) if {
	s.api == input.api.name
	object.get(s, "version", "") in {"", input.api.version}
}

# METADATA
# title: subscription
# description: |
#   The subscription of the principal's application (qualified by the
#   principal's source) to this API (api, version, plan), for users' rules
#   (e.g. per-plan limits); undefined when the principal has no source, no
#   application or no subscription to this API, whether or not its source
#   validates subscriptions.
subscription := subscription_of(principal)
