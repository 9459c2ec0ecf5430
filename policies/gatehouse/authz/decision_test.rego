# Tests of the decision assembly, and the fixtures every *_test.rego shares.
package gatehouse.authz_test

import data.gatehouse.authz

# --- fixtures ----------------------------------------------------------------

jwt_alice := {
	"scheme": "petsOAuth",
	"type": "jwt",
	"subject": "alice",
	"issuer": "https://idp.example/",
	"source": "corp",
	"client_id": "app-1",
	"application": "petshop",
	"scopes": ["read:pets", "write:pets"],
	"audience": ["petstore"],
	"token_id": "jti-alice",
	"issued_at": 1700000000,
	"expires_at": 1700003600,
	"credential_id": "9f86d081",
	"claims": {"sub": "alice", "scope": "read:pets write:pets"},
}

jwt(scopes) := object.union(jwt_alice, {"scopes": scopes})

basic_bob := {"scheme": "basicAuth", "type": "basic", "subject": "bob", "source": "users", "scopes": []}

cert_partner := {
	"scheme": "clientCert",
	"type": "mtls",
	"subject": "CN=partner-1",
	"issuer": "CN=Partners CA",
	"scopes": [],
	"certificate": {"subject": "CN=partner-1", "common_name": "partner-1", "serial": "01"},
}

key_acme := {
	"scheme": "partnerKey",
	"type": "api_key",
	"subject": "acme",
	"application": "acme-app",
	"scopes": ["read:pets"],
	"token_id": "key-1",
	"plan": "gold",
	"apis": [{"name": "petstore"}],
}

schemes := {
	"petsOAuth": {"type": "oauth2"},
	"adminOAuth": {"type": "oauth2"},
	"basicAuth": {"type": "http", "scheme": "basic"},
	"clientCert": {"type": "mutualTLS"},
	"partnerKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
}

# request is an input document as the gateway builds it.
request(security, creds, rejections) := {
	"time": 1700000100000000000,
	"request": {
		"id": "req-1",
		"method": "GET",
		"path": "/petstore/v1/pets/1",
		"host": "api.example",
		"scheme": "https",
		"client_ip": "192.0.2.1",
		"headers": {"accept": "application/json"},
	},
	"api": {"name": "petstore", "version": "1.0.0", "base_path": "/petstore/v1"},
	"operation": {
		"id": "getPet",
		"method": "GET",
		"path": "/pets/{id}",
		"public": false,
		"security": security,
		"scope_mode": "all",
	},
	"schemes": schemes,
	"credentials": creds,
	"rejections": rejections,
}

public_request := object.union(request([], {}, {}), {"operation": {"public": true}})

oauth_read := [{"petsOAuth": ["read:pets"]}]

# oauth_or_basic_cert: a token with read:pets, or Basic AND a client certificate.
oauth_or_basic_cert := [{"petsOAuth": ["read:pets"]}, {"basicAuth": [], "clientCert": []}]

# decide evaluates the decision of one table case: its input plus the bundle
# data it names (revocations, config, custom, subscriptions: absent means not
# loaded).
decide(tc) := d if {
	d := authz.decision with input as tc.input
		with data.gatehouse.revocations as object.get(tc, "revocations", {})
		with data.gatehouse.config as object.get(tc, "config", {})
		with data.gatehouse.custom as object.get(tc, "custom", {})
		with data.gatehouse.subscriptions as object.get(tc, "subscriptions", {})
}

# full is the same decision computed without the fast path.
full(tc) := d if {
	d := authz.full_decision with input as tc.input
		with data.gatehouse.revocations as object.get(tc, "revocations", {})
		with data.gatehouse.config as object.get(tc, "config", {})
		with data.gatehouse.custom as object.get(tc, "custom", {})
		with data.gatehouse.subscriptions as object.get(tc, "subscriptions", {})
}

# matches: every key of want has that value in the decision; the keys listed
# in want.absent are absent; want.principal_scheme names the principal.
matches(d, want) if {
	every k, v in object.remove(want, ["absent", "principal_scheme"]) {
		d[k] == v
	}
	every k in object.get(want, "absent", []) {
		not k in object.keys(d)
	}
	principal_is(d, want)
}

principal_is(_, want) if not want.principal_scheme

principal_is(d, want) if d.principal.scheme == want.principal_scheme

# check is what every table test asserts: the decision matches, the fast
# paths agree with the full computation, and the policy always decided.
check(tc) if {
	d := decide(tc)
	matches(d, tc.want)
	d == full(tc)
	not "policy_error" in d.reasons
}

# --- decision assembly -------------------------------------------------------

test_allowed_decision_has_exactly_the_allow_members if {
	d := decide({"input": request(oauth_read, {"petsOAuth": jwt_alice}, {})})
	object.keys(d) == {"allow", "reasons", "alternative", "schemes", "principal"}
	d.allow == true
	d.reasons == []
	d.alternative == 0
	d.schemes == ["petsOAuth"]
	d.principal == jwt_alice
}

test_denied_decision_has_allow_reasons_alternative if {
	d := decide({"input": request(oauth_read, {}, {})})
	object.keys(d) == {"allow", "reasons", "alternative"}
	d == {"allow": false, "reasons": ["credentials_missing"], "alternative": -1}
}

test_decision_defined_for_empty_input if {
	d := authz.decision with input as {}
	d.allow == false
	count(d.reasons) > 0
}

test_decision_defined_without_input if {
	d := authz.decision
	d.allow == false
}

test_deny_reasons_from_another_file_deny[note] if {
	# subscriptions.rego, apikeys.rego and the like add to deny_reasons.
	some note, tc in {
		"on an otherwise allowed request": {
			"input": request(oauth_read, {"petsOAuth": jwt_alice}, {}),
			"want": {"allow": false, "reasons": ["subscription_required"], "alternative": 0},
		},
		"on a public operation": {
			"input": public_request,
			"want": {"allow": false, "reasons": ["subscription_required"], "alternative": -1},
		},
		"together with an authentication reason": {
			"input": request(oauth_read, {}, {}),
			"want": {"allow": false, "reasons": ["credentials_missing", "subscription_required"]},
		},
	}
	d := decide(tc) with authz.deny_reasons as {"subscription_required"}
	matches(d, tc.want)
	d == full(tc) with authz.deny_reasons as {"subscription_required"}
}

test_reasons_sorted_and_unique if {
	tc := {
		"input": request(oauth_read, {}, {}),
		"custom": {"deny": {{"reason": "b_rule"}, {"reason": "a_rule"}, {"reason": "b_rule", "message": "again"}}},
		"want": {"allow": false, "reasons": ["a_rule", "b_rule", "credentials_missing"]},
	}
	check(tc)
}

test_allow_rule_agrees_with_decision[note] if {
	some note, tc in {
		"allowed": {"input": request(oauth_read, {"petsOAuth": jwt_alice}, {})},
		"denied": {"input": request(oauth_read, {}, {})},
		"public": {"input": public_request},
	}
	d := decide(tc)
	allow := authz.allow with input as tc.input with data.gatehouse.custom as {}
	d.allow == allow
}
