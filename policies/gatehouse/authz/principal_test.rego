# Principal precedence: a token (jwt, opaque_token, api_key) over a client
# certificate over basic; equal ranks by scheme name.
package gatehouse.authz_test

import data.gatehouse.authz

opaque_carol := {"scheme": "adminOAuth", "type": "opaque_token", "subject": "carol", "source": "corp-km", "scopes": ["admin:pets"]}

test_principal[note] if {
	some note, tc in {
		"a single token": {
			"input": request(oauth_read, {"petsOAuth": jwt_alice}, {}),
			"want": {"principal": jwt_alice},
		},
		"token over certificate": {
			"input": request([{"clientCert": [], "petsOAuth": []}], {"clientCert": cert_partner, "petsOAuth": jwt_alice}, {}),
			"want": {"allow": true, "principal_scheme": "petsOAuth"},
		},
		"certificate over basic": {
			"input": request([{"basicAuth": [], "clientCert": []}], {"basicAuth": basic_bob, "clientCert": cert_partner}, {}),
			"want": {"allow": true, "principal_scheme": "clientCert"},
		},
		"API key over basic": {
			"input": request([{"basicAuth": [], "partnerKey": []}], {"basicAuth": basic_bob, "partnerKey": key_acme}, {}),
			"want": {"allow": true, "principal_scheme": "partnerKey"},
		},
		"API key over certificate": {
			"input": request([{"clientCert": [], "partnerKey": []}], {"clientCert": cert_partner, "partnerKey": key_acme}, {}),
			"want": {"allow": true, "principal_scheme": "partnerKey"},
		},
		"two tokens: by scheme name": {
			"input": request([{"petsOAuth": [], "adminOAuth": []}], {"petsOAuth": jwt_alice, "adminOAuth": opaque_carol}, {}),
			"want": {"allow": true, "principal_scheme": "adminOAuth"},
		},
		"only from the satisfied alternative": {
			"input": request(oauth_or_basic_cert, {"petsOAuth": jwt([]), "basicAuth": basic_bob, "clientCert": cert_partner}, {}),
			"want": {"allow": true, "alternative": 1, "principal_scheme": "clientCert"},
		},
		"empty when public": {
			"input": public_request,
			"want": {"allow": true, "principal": {}},
		},
		"empty for the anonymous alternative": {
			"input": request([{}], {}, {}),
			"want": {"allow": true, "principal": {}},
		},
		"absent on a denial": {
			"input": request(oauth_read, {"petsOAuth": jwt([])}, {}),
			"want": {"allow": false, "absent": ["principal"]},
		},
	}
	check(tc)
}

test_principal_rule_for_custom_rules if {
	# custom rules read data.gatehouse.authz.principal even when the request
	# is denied for another reason.
	p := authz.principal with input as request(oauth_read, {"petsOAuth": jwt_alice}, {})
		with data.gatehouse.custom as {"deny": {{"reason": "x"}}}
	p.subject == "alice"
}
