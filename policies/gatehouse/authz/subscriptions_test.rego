# Subscriptions: an identity with subscription_validation needs its
# application, qualified by its source, subscribed to the API being called.
package gatehouse.authz_test

import data.gatehouse.authz

jwt_sub := object.union(jwt_alice, {"subscription_validation": true})

# jwt_alice's source is corp, its application petshop.
petshop_subs := {"corp": {"petshop": [
	{"api": "orders", "version": "2", "plan": "silver"},
	{"api": "petstore", "version": "1.0.0", "plan": "gold"},
]}}

key_sub := object.union(key_acme, {"source": "api_keys", "subscription_validation": true})

test_subscription_allowed[note] if {
	some note, tc in {
		"subscribed to this API and version": {
			"input": request(oauth_read, {"petsOAuth": jwt_sub}, {}),
			"subscriptions": petshop_subs,
			"want": {"allow": true, "reasons": [], "principal_scheme": "petsOAuth"},
		},
		"subscription without version: every version": {
			"input": request(oauth_read, {"petsOAuth": jwt_sub}, {}),
			"subscriptions": {"corp": {"petshop": [{"api": "petstore"}]}},
			"want": {"allow": true},
		},
		"empty version: every version": {
			"input": request(oauth_read, {"petsOAuth": jwt_sub}, {}),
			"subscriptions": {"corp": {"petshop": [{"api": "petstore", "version": ""}]}},
			"want": {"allow": true},
		},
		"issuer without subscription validation: not checked": {
			"input": request(oauth_read, {"petsOAuth": jwt_alice}, {}),
			"subscriptions": {},
			"want": {"allow": true},
		},
		"subscription_validation false: not checked": {
			"input": request(oauth_read, {"petsOAuth": object.union(jwt_alice, {"subscription_validation": false})}, {}),
			"want": {"allow": true},
		},
		"public operation: no credentials, not checked": {
			"input": public_request,
			"want": {"allow": true},
		},
		"API key of a subscribed application": {
			"input": request([{"partnerKey": []}], {"partnerKey": key_sub}, {}),
			"subscriptions": {"api_keys": {"acme-app": [{"api": "petstore"}]}},
			"want": {"allow": true},
		},
	}
	check(tc)
}

test_subscription_required[note] if {
	some note, tc in {
		"no subscriptions at all": {
			"input": request(oauth_read, {"petsOAuth": jwt_sub}, {}),
			"want": {"allow": false, "reasons": ["subscription_required"], "alternative": 0},
		},
		"subscribed to another API": {
			"input": request(oauth_read, {"petsOAuth": jwt_sub}, {}),
			"subscriptions": {"corp": {"petshop": [{"api": "orders"}]}},
			"want": {"allow": false, "reasons": ["subscription_required"]},
		},
		"subscribed to another version": {
			"input": request(oauth_read, {"petsOAuth": jwt_sub}, {}),
			"subscriptions": {"corp": {"petshop": [{"api": "petstore", "version": "2.0.0"}]}},
			"want": {"allow": false, "reasons": ["subscription_required"]},
		},
		"another application is subscribed": {
			"input": request(oauth_read, {"petsOAuth": jwt_sub}, {}),
			"subscriptions": {"corp": {"other-app": [{"api": "petstore"}]}},
			"want": {"allow": false, "reasons": ["subscription_required"]},
		},
		"no application in the token": {
			"input": request(oauth_read, {"petsOAuth": object.remove(jwt_sub, ["application"])}, {}),
			"subscriptions": petshop_subs,
			"want": {"allow": false, "reasons": ["subscription_required"]},
		},
		"a credential of an unused alternative is checked too": {
			"input": request([{"basicAuth": []}, {"petsOAuth": []}], {"basicAuth": basic_bob, "petsOAuth": jwt_sub}, {}),
			"want": {"allow": false, "reasons": ["subscription_required"], "alternative": 0},
		},
		"with missing scopes, both reasons": {
			"input": request([{"petsOAuth": ["admin"]}], {"petsOAuth": jwt_sub}, {}),
			"want": {"allow": false, "reasons": ["insufficient_scope", "subscription_required"], "required_scopes": ["admin"]},
		},
		"revoked and unsubscribed: both reasons": {
			"input": request(oauth_read, {"petsOAuth": jwt_sub}, {}),
			"revocations": {"jti": {"jti-alice": true}},
			"want": {"allow": false, "reasons": ["revoked", "subscription_required"]},
		},
		"the same application id at another source": {
			"input": request(oauth_read, {"petsOAuth": jwt_sub}, {}),
			"subscriptions": {"partner": {"petshop": [{"api": "petstore"}]}},
			"want": {"allow": false, "reasons": ["subscription_required"]},
		},
		"the same application id at another source, API key": {
			"input": request([{"partnerKey": []}], {"partnerKey": key_sub}, {}),
			"subscriptions": {"corp": {"acme-app": [{"api": "petstore"}]}},
			"want": {"allow": false, "reasons": ["subscription_required"]},
		},
		"old flat data (application at the top): not honoured": {
			"input": request(oauth_read, {"petsOAuth": jwt_sub}, {}),
			"subscriptions": {"petshop": [{"api": "petstore"}]},
			"want": {"allow": false, "reasons": ["subscription_required"]},
		},
		"old flat data with an application named like the source": {
			"input": request(oauth_read, {"petsOAuth": jwt_sub}, {}),
			"subscriptions": {"corp": [{"api": "petstore"}], "petshop": [{"api": "petstore"}]},
			"want": {"allow": false, "reasons": ["subscription_required"]},
		},
		"no source in the identity": {
			"input": request(oauth_read, {"petsOAuth": object.remove(jwt_sub, ["source"])}, {}),
			"subscriptions": petshop_subs,
			"want": {"allow": false, "reasons": ["subscription_required"]},
		},
		"malformed subscriptions entry": {
			"input": request(oauth_read, {"petsOAuth": jwt_sub}, {}),
			"subscriptions": {"corp": {"petshop": {"api": "petstore"}}},
			"want": {"allow": false, "reasons": ["subscription_required"]},
		},
		"malformed subscriptions entry: an object of subscriptions": {
			"input": request(oauth_read, {"petsOAuth": jwt_sub}, {}),
			"subscriptions": {"corp": {"petshop": {"0": {"api": "petstore"}}}},
			"want": {"allow": false, "reasons": ["subscription_required"]},
		},
	}
	check(tc)
}

test_subscription_exposes_the_plan if {
	tc := {"input": request(oauth_read, {"petsOAuth": jwt_sub}, {}), "subscriptions": petshop_subs}
	s := authz.subscription with input as tc.input with data.gatehouse.subscriptions as tc.subscriptions
	s == {"api": "petstore", "version": "1.0.0", "plan": "gold"}
}

test_subscription_undefined_without_application if {
	not authz.subscription with input as request(oauth_read, {"petsOAuth": object.remove(jwt_alice, ["application"])}, {})
		with data.gatehouse.subscriptions as petshop_subs
}

test_subscription_of_the_principals_source if {
	subs := {
		"corp": {"petshop": [{"api": "petstore", "plan": "gold"}]},
		"partner": {"petshop": [{"api": "petstore", "plan": "free"}]},
	}
	s := authz.subscription with input as request(oauth_read, {"petsOAuth": jwt_sub}, {}) with data.gatehouse.subscriptions as subs
	s.plan == "gold"
	p := authz.subscription with input as request(oauth_read, {"petsOAuth": object.union(jwt_sub, {"source": "partner"})}, {})
		with data.gatehouse.subscriptions as subs
	p.plan == "free"
	not authz.subscription with input as request(oauth_read, {"petsOAuth": object.union(jwt_sub, {"source": "other"})}, {})
		with data.gatehouse.subscriptions as subs
}
