# API key restrictions: the API being called must be among the key's apis.
package gatehouse.authz_test

key_for(apis) := object.union(key_acme, {"apis": apis})

key_only := [{"partnerKey": []}]

test_api_key_allowed[note] if {
	some note, tc in {
		"name, any version": {
			"input": request(key_only, {"partnerKey": key_for([{"name": "petstore"}])}, {}),
			"want": {"allow": true, "reasons": [], "principal_scheme": "partnerKey"},
		},
		"name and version": {
			"input": request(key_only, {"partnerKey": key_for([{"name": "orders", "version": "2"}, {"name": "petstore", "version": "1.0.0"}])}, {}),
			"want": {"allow": true},
		},
		"empty version means any": {
			"input": request(key_only, {"partnerKey": key_for([{"name": "petstore", "version": ""}])}, {}),
			"want": {"allow": true},
		},
		"every API": {
			"input": request(key_only, {"partnerKey": key_for([{"name": "*"}])}, {}),
			"want": {"allow": true},
		},
		"every API, pinned version": {
			"input": request(key_only, {"partnerKey": key_for([{"name": "*", "version": "1.0.0"}])}, {}),
			"want": {"allow": true},
		},
		"a JWT carries no API restriction here": {
			"input": request(oauth_read, {"petsOAuth": object.union(jwt_alice, {"apis": [{"name": "orders"}]})}, {}),
			"want": {"allow": true},
		},
	}
	check(tc)
}

test_api_key_not_allowed[note] if {
	some note, tc in {
		"another API": {
			"input": request(key_only, {"partnerKey": key_for([{"name": "orders"}])}, {}),
			"want": {"allow": false, "reasons": ["api_not_allowed"], "alternative": 0},
		},
		"another version": {
			"input": request(key_only, {"partnerKey": key_for([{"name": "petstore", "version": "2.0.0"}])}, {}),
			"want": {"allow": false, "reasons": ["api_not_allowed"]},
		},
		"every API, another version": {
			"input": request(key_only, {"partnerKey": key_for([{"name": "*", "version": "2.0.0"}])}, {}),
			"want": {"allow": false, "reasons": ["api_not_allowed"]},
		},
		"no APIs": {
			"input": request(key_only, {"partnerKey": key_for([])}, {}),
			"want": {"allow": false, "reasons": ["api_not_allowed"]},
		},
		"no apis member": {
			"input": request(key_only, {"partnerKey": object.remove(key_acme, ["apis"])}, {}),
			"want": {"allow": false, "reasons": ["api_not_allowed"]},
		},
		"a key of an unused alternative still restricts": {
			"input": request([{"petsOAuth": ["read:pets"]}, {"partnerKey": []}], {"petsOAuth": jwt_alice, "partnerKey": key_for([{"name": "orders"}])}, {}),
			"want": {"allow": false, "reasons": ["api_not_allowed"], "alternative": 0},
		},
		"with missing scopes, both reasons": {
			"input": request([{"partnerKey": ["write:pets"]}], {"partnerKey": key_for([{"name": "orders"}])}, {}),
			"want": {"allow": false, "reasons": ["api_not_allowed", "insufficient_scope"], "required_scopes": ["write:pets"]},
		},
		"revoked wins over the restriction": {
			"input": request(key_only, {"partnerKey": key_for([{"name": "orders"}])}, {}),
			"revocations": {"jti": {"key-1": true}},
			"want": {"allow": false, "reasons": ["api_not_allowed", "revoked"]},
		},
	}
	check(tc)
}
