# Security requirements: single scheme, OR, AND, public, no requirement,
# the anonymous alternative, invalid credentials and fallthrough, scopes.
# Override semantics (operation over document security) are the gateway's job:
# the input already holds the effective requirements.
package gatehouse.authz_test

test_single_scheme[note] if {
	some note, tc in {
		"token with the scope is allowed": {
			"input": request(oauth_read, {"petsOAuth": jwt_alice}, {}),
			"want": {"allow": true, "reasons": [], "alternative": 0, "schemes": ["petsOAuth"], "principal_scheme": "petsOAuth"},
		},
		"no token is credentials_missing": {
			"input": request(oauth_read, {}, {}),
			"want": {"allow": false, "reasons": ["credentials_missing"], "alternative": -1, "absent": ["principal", "required_scopes", "rejected"]},
		},
		"token without the scope is insufficient_scope": {
			"input": request(oauth_read, {"petsOAuth": jwt(["write:pets"])}, {}),
			"want": {"allow": false, "reasons": ["insufficient_scope"], "required_scopes": ["read:pets"], "alternative": -1},
		},
		"required scopes are reported sorted and unique": {
			"input": request([{"petsOAuth": ["write:pets", "admin:pets", "admin:pets"]}], {"petsOAuth": jwt([])}, {}),
			"want": {"allow": false, "reasons": ["insufficient_scope"], "required_scopes": ["admin:pets", "write:pets"]},
		},
		"a credential of another scheme does not count": {
			"input": request(oauth_read, {"basicAuth": basic_bob}, {}),
			"want": {"allow": false, "reasons": ["credentials_missing"]},
		},
		"a scheme without scopes needs only the credential": {
			"input": request([{"basicAuth": []}], {"basicAuth": basic_bob}, {}),
			"want": {"allow": true, "schemes": ["basicAuth"], "principal_scheme": "basicAuth"},
		},
		"a credential without a scopes list lacks every scope": {
			"input": request(oauth_read, {"petsOAuth": object.remove(jwt_alice, ["scopes"])}, {}),
			"want": {"allow": false, "reasons": ["insufficient_scope"]},
		},
	}
	check(tc)
}

test_or_alternatives[note] if {
	some note, tc in {
		"first alternative": {
			"input": request(oauth_or_basic_cert, {"petsOAuth": jwt_alice}, {}),
			"want": {"allow": true, "alternative": 0, "schemes": ["petsOAuth"]},
		},
		"second alternative": {
			"input": request(oauth_or_basic_cert, {"basicAuth": basic_bob, "clientCert": cert_partner}, {}),
			"want": {"allow": true, "alternative": 1, "schemes": ["basicAuth", "clientCert"]},
		},
		"both satisfied: the first one": {
			"input": request(oauth_or_basic_cert, {"petsOAuth": jwt_alice, "basicAuth": basic_bob, "clientCert": cert_partner}, {}),
			"want": {"allow": true, "alternative": 0, "schemes": ["petsOAuth"], "principal_scheme": "petsOAuth"},
		},
		"first lacks a scope, second satisfied": {
			"input": request(oauth_or_basic_cert, {"petsOAuth": jwt([]), "basicAuth": basic_bob, "clientCert": cert_partner}, {}),
			"want": {"allow": true, "alternative": 1},
		},
		"none presented": {
			"input": request(oauth_or_basic_cert, {}, {}),
			"want": {"allow": false, "reasons": ["credentials_missing"], "alternative": -1},
		},
	}
	check(tc)
}

test_and_alternative[note] if {
	some note, tc in {
		"every scheme presented": {
			"input": request([{"basicAuth": [], "clientCert": []}], {"basicAuth": basic_bob, "clientCert": cert_partner}, {}),
			"want": {"allow": true, "alternative": 0, "schemes": ["basicAuth", "clientCert"]},
		},
		"one scheme missing": {
			"input": request([{"basicAuth": [], "clientCert": []}], {"basicAuth": basic_bob}, {}),
			"want": {"allow": false, "reasons": ["credentials_missing"]},
		},
		"scopes are checked per scheme, on that scheme's credential": {
			# The API key holds read:pets; the token, which must, does not.
			"input": request([{"petsOAuth": ["read:pets"], "partnerKey": []}], {"petsOAuth": jwt([]), "partnerKey": key_acme}, {}),
			"want": {"allow": false, "reasons": ["insufficient_scope"], "required_scopes": ["read:pets"]},
		},
		"scopes of each scheme satisfied": {
			"input": request([{"petsOAuth": ["write:pets"], "partnerKey": ["read:pets"]}], {"petsOAuth": jwt_alice, "partnerKey": key_acme}, {}),
			"want": {"allow": true, "schemes": ["partnerKey", "petsOAuth"]},
		},
	}
	check(tc)
}

test_public_operation[note] if {
	some note, tc in {
		"allowed without credentials": {
			"input": public_request,
			"want": {"allow": true, "reasons": [], "alternative": -1, "schemes": [], "principal": {}},
		},
		"a rejected credential is ignored": {
			"input": object.union(public_request, {"rejections": {"petsOAuth": {"reason": "expired", "type": "jwt"}}}),
			"want": {"allow": true, "absent": ["rejected"]},
		},
		"public must be exactly true": {
			"input": object.union(request([], {}, {}), {"operation": {"public": "true"}}),
			"want": {"allow": false, "reasons": ["no_security_requirement"]},
		},
	}
	check(tc)
}

test_no_security_requirement_denies[note] if {
	some note, tc in {
		"empty security": {
			"input": request([], {}, {}),
			"want": {"allow": false, "reasons": ["no_security_requirement"], "alternative": -1},
		},
		"empty security, credentials present": {
			"input": request([], {"petsOAuth": jwt_alice}, {}),
			"want": {"allow": false, "reasons": ["no_security_requirement"]},
		},
		"public missing": {
			"input": json.remove(request([], {}, {}), ["operation/public"]),
			"want": {"allow": false, "reasons": ["no_security_requirement"]},
		},
		"no operation at all": {
			"input": object.remove(request([], {}, {}), ["operation"]),
			"want": {"allow": false, "reasons": ["no_security_requirement"]},
		},
	}
	check(tc)
}

test_anonymous_alternative[note] if {
	some note, tc in {
		"{} alone allows without credentials": {
			"input": request([{}], {}, {}),
			"want": {"allow": true, "alternative": 0, "schemes": [], "principal": {}},
		},
		"{} after a scheme allows without credentials": {
			"input": request([{"petsOAuth": ["read:pets"]}, {}], {}, {}),
			"want": {"allow": true, "alternative": 1, "principal": {}},
		},
		"a presented credential is preferred to {}, wherever {} stands": {
			"input": request([{}, {"petsOAuth": ["read:pets"]}], {"petsOAuth": jwt_alice}, {}),
			"want": {"allow": true, "alternative": 1, "principal_scheme": "petsOAuth"},
		},
		"several {}: the first": {
			"input": request([{"petsOAuth": ["read:pets"]}, {}, {}], {}, {}),
			"want": {"allow": true, "alternative": 1},
		},
		"a token lacking the scope falls back to {}": {
			"input": request([{"petsOAuth": ["admin:pets"]}, {}], {"petsOAuth": jwt_alice}, {}),
			"want": {"allow": true, "alternative": 1, "principal": {}},
		},
		"an invalid token does not fall back to {}": {
			"input": request([{"petsOAuth": ["read:pets"]}, {}], {}, {"petsOAuth": {"reason": "expired", "type": "jwt"}}),
			"want": {"allow": false, "reasons": ["credentials_invalid"], "rejected": {"petsOAuth": "expired"}},
		},
	}
	check(tc)
}

test_invalid_credential_never_falls_through[note] if {
	some note, tc in {
		"to a satisfied alternative": {
			"input": request(
				oauth_or_basic_cert,
				{"basicAuth": basic_bob, "clientCert": cert_partner},
				{"petsOAuth": {"reason": "invalid_signature", "type": "jwt"}},
			),
			"want": {"allow": false, "reasons": ["credentials_invalid"], "rejected": {"petsOAuth": "invalid_signature"}},
		},
		"nor within the alternative": {
			"input": request(
				[{"basicAuth": [], "clientCert": []}],
				{"clientCert": cert_partner},
				{"basicAuth": {"reason": "invalid_credentials", "type": "basic"}},
			),
			"want": {"allow": false, "reasons": ["credentials_invalid"], "rejected": {"basicAuth": "invalid_credentials"}},
		},
		"when the only credential is invalid": {
			"input": request(oauth_read, {}, {"petsOAuth": {"reason": "expired", "type": "jwt"}}),
			"want": {"allow": false, "reasons": ["credentials_invalid"], "rejected": {"petsOAuth": "expired"}, "alternative": -1},
		},
		"a rejection without a reason is invalid": {
			"input": request(oauth_read, {}, {"petsOAuth": {}}),
			"want": {"allow": false, "reasons": ["credentials_invalid"]},
		},
		"ambiguous credentials are invalid": {
			"input": request(oauth_read, {}, {"petsOAuth": {"reason": "ambiguous_credentials", "type": "jwt"}}),
			"want": {"allow": false, "reasons": ["credentials_invalid"], "rejected": {"petsOAuth": "ambiguous_credentials"}},
		},
	}
	check(tc)
}

test_allow_fallthrough[note] if {
	some note, tc in {
		"falls through when data allows it for this API": {
			"input": request(
				oauth_or_basic_cert,
				{"basicAuth": basic_bob, "clientCert": cert_partner},
				{"petsOAuth": {"reason": "expired", "type": "jwt"}},
			),
			"config": {"allow_fallthrough": {"petstore": true}},
			"want": {"allow": true, "alternative": 1, "rejected": {"petsOAuth": "expired"}},
		},
		"not for another API": {
			"input": request(
				oauth_or_basic_cert,
				{"basicAuth": basic_bob, "clientCert": cert_partner},
				{"petsOAuth": {"reason": "expired", "type": "jwt"}},
			),
			"config": {"allow_fallthrough": {"other": true}},
			"want": {"allow": false, "reasons": ["credentials_invalid"]},
		},
		"only with exactly true": {
			"input": request(
				oauth_or_basic_cert,
				{"basicAuth": basic_bob, "clientCert": cert_partner},
				{"petsOAuth": {"reason": "expired", "type": "jwt"}},
			),
			"config": {"allow_fallthrough": {"petstore": "yes"}},
			"want": {"allow": false, "reasons": ["credentials_invalid"]},
		},
		"still invalid when nothing else is presented": {
			"input": request(oauth_or_basic_cert, {}, {"petsOAuth": {"reason": "expired", "type": "jwt"}}),
			"config": {"allow_fallthrough": {"petstore": true}},
			"want": {"allow": false, "reasons": ["credentials_invalid"], "alternative": -1, "rejected": {"petsOAuth": "expired"}},
		},
		"still invalid when nothing else is satisfied": {
			"input": request(oauth_or_basic_cert, {"basicAuth": basic_bob}, {"petsOAuth": {"reason": "expired", "type": "jwt"}}),
			"config": {"allow_fallthrough": {"petstore": true}},
			"want": {"allow": false, "reasons": ["credentials_invalid"], "rejected": {"petsOAuth": "expired"}},
		},
	}
	check(tc)
}

test_scope_modes[note] if {
	some note, tc in {
		"all: every scope required": {
			"input": request([{"petsOAuth": ["read:pets", "admin:pets"]}], {"petsOAuth": jwt_alice}, {}),
			"want": {"allow": false, "reasons": ["insufficient_scope"], "required_scopes": ["admin:pets", "read:pets"]},
		},
		"all: every scope present": {
			"input": request([{"petsOAuth": ["read:pets", "write:pets"]}], {"petsOAuth": jwt_alice}, {}),
			"want": {"allow": true},
		},
		"any: one scope is enough": {
			"input": object.union(
				request([{"petsOAuth": ["read:pets", "admin:pets"]}], {"petsOAuth": jwt_alice}, {}),
				{"operation": {"scope_mode": "any"}},
			),
			"want": {"allow": true, "alternative": 0, "principal_scheme": "petsOAuth"},
		},
		"any: none of the scopes": {
			"input": object.union(
				request([{"petsOAuth": ["admin:pets", "delete:pets"]}], {"petsOAuth": jwt_alice}, {}),
				{"operation": {"scope_mode": "any"}},
			),
			"want": {"allow": false, "reasons": ["insufficient_scope"], "required_scopes": ["admin:pets", "delete:pets"]},
		},
		"any: an empty list needs only the credential": {
			"input": object.union(request([{"petsOAuth": []}], {"petsOAuth": jwt([])}, {}), {"operation": {"scope_mode": "any"}}),
			"want": {"allow": true},
		},
		"any: an empty list still needs the credential": {
			"input": object.union(request([{"petsOAuth": []}], {}, {}), {"operation": {"scope_mode": "any"}}),
			"want": {"allow": false, "reasons": ["credentials_missing"]},
		},
		"an unknown mode is all": {
			"input": object.union(
				request([{"petsOAuth": ["read:pets", "admin:pets"]}], {"petsOAuth": jwt_alice}, {}),
				{"operation": {"scope_mode": "ANY"}},
			),
			"want": {"allow": false, "reasons": ["insufficient_scope"]},
		},
		"a missing mode is all": {
			"input": json.remove(
				request([{"petsOAuth": ["read:pets", "admin:pets"]}], {"petsOAuth": jwt_alice}, {}),
				["operation/scope_mode"],
			),
			"want": {"allow": false, "reasons": ["insufficient_scope"]},
		},
	}
	check(tc)
}

test_required_scopes_reported[note] if {
	some note, tc in {
		"of the first alternative whose credentials were all presented": {
			"input": request(
				[{"adminOAuth": ["admin:pets"]}, {"petsOAuth": ["write:pets", "delete:pets"]}, {"petsOAuth": ["read:pets", "admin:pets"]}],
				{"petsOAuth": jwt_alice},
				{},
			),
			"want": {"allow": false, "reasons": ["insufficient_scope"], "required_scopes": ["delete:pets", "write:pets"], "alternative": -1},
		},
		"across the schemes of an AND alternative": {
			"input": request(
				[{"petsOAuth": ["admin:pets"], "partnerKey": ["write:pets"]}],
				{"petsOAuth": jwt_alice, "partnerKey": key_acme},
				{},
			),
			"want": {"allow": false, "reasons": ["insufficient_scope"], "required_scopes": ["admin:pets", "write:pets"]},
		},
		"not reported for other reasons": {
			"input": request(oauth_read, {}, {}),
			"want": {"allow": false, "absent": ["required_scopes"]},
		},
	}
	check(tc)
}

test_only_operation_security_counts if {
	# Document-level security never reaches the policy separately: whatever
	# else the input carries, operation.security decides.
	tc := {
		"input": object.union(request(oauth_read, {"basicAuth": basic_bob}, {}), {"api": {"security": [{"basicAuth": []}]}}),
		"want": {"allow": false, "reasons": ["credentials_missing"]},
	}
	check(tc)
}
