# User extension points: data.gatehouse.custom.deny and .headers.
package gatehouse.authz_test

allowed_request := request(oauth_read, {"petsOAuth": jwt_alice}, {})

test_custom_deny[note] if {
	some note, tc in {
		"denies with its reason": {
			"input": allowed_request,
			"custom": {"deny": {{"reason": "tenant_suspended"}}},
			"want": {"allow": false, "reasons": ["tenant_suspended"], "alternative": 0, "absent": ["status", "messages", "principal", "headers"]},
		},
		"with a status": {
			"input": allowed_request,
			"custom": {"deny": {{"reason": "rate_plan_exceeded", "status": 429, "message": "plan limit"}}},
			"want": {"allow": false, "reasons": ["rate_plan_exceeded"], "status": 429, "messages": ["plan limit"]},
		},
		"the highest status wins": {
			"input": allowed_request,
			"custom": {"deny": {{"reason": "a", "status": 403}, {"reason": "b", "status": 429}}},
			"want": {"allow": false, "reasons": ["a", "b"], "status": 429},
		},
		"a status outside 400-599 is ignored": {
			"input": allowed_request,
			"custom": {"deny": {{"reason": "a", "status": 200}, {"reason": "b", "status": 302}, {"reason": "c", "status": 403.5}, {"reason": "d", "status": "500"}}},
			"want": {"allow": false, "reasons": ["a", "b", "c", "d"], "absent": ["status"]},
		},
		"applies to public operations": {
			"input": public_request,
			"custom": {"deny": {{"reason": "maintenance", "status": 503}}},
			"want": {"allow": false, "reasons": ["maintenance"], "status": 503},
		},
		"adds to insufficient_scope": {
			"input": request([{"petsOAuth": ["admin:pets"]}], {"petsOAuth": jwt_alice}, {}),
			"custom": {"deny": {{"reason": "geo_blocked"}}},
			"want": {"allow": false, "reasons": ["geo_blocked", "insufficient_scope"], "required_scopes": ["admin:pets"]},
		},
		"adds to an authentication reason": {
			"input": request(oauth_read, {}, {}),
			"custom": {"deny": {{"reason": "geo_blocked"}}},
			"want": {"allow": false, "reasons": ["credentials_missing", "geo_blocked"]},
		},
		"an element without a reason still denies": {
			"input": allowed_request,
			"custom": {"deny": {"blocked", {"message": "no reason"}, {"reason": ""}}},
			"want": {"allow": false, "reasons": ["custom_deny"], "messages": ["no reason"]},
		},
		"a boolean deny still denies": {
			"input": allowed_request,
			"custom": {"deny": true},
			"want": {"allow": false, "reasons": ["custom_deny"]},
		},
		"an empty set does not deny": {
			"input": allowed_request,
			"custom": {"deny": set()},
			"want": {"allow": true},
		},
		"false does not deny": {
			"input": allowed_request,
			"custom": {"deny": false},
			"want": {"allow": true},
		},
	}
	check(tc)
}

test_custom_headers[note] if {
	some note, tc in {
		"added when allowed": {
			"input": allowed_request,
			"custom": {"headers": {"x-tenant": "acme", "x-plan": "gold"}},
			"want": {"allow": true, "headers": {"x-tenant": "acme", "x-plan": "gold"}, "principal_scheme": "petsOAuth"},
		},
		"only string values": {
			"input": allowed_request,
			"custom": {"headers": {"x-tenant": "acme", "x-count": 3, "x-list": ["a"]}},
			"want": {"allow": true, "headers": {"x-tenant": "acme"}},
		},
		"absent when empty": {
			"input": allowed_request,
			"custom": {"headers": {}},
			"want": {"allow": true, "absent": ["headers"]},
		},
		"never on a denial": {
			"input": request(oauth_read, {}, {}),
			"custom": {"headers": {"x-tenant": "acme"}},
			"want": {"allow": false, "absent": ["headers"]},
		},
		"on public operations too": {
			"input": public_request,
			"custom": {"headers": {"x-tenant": "acme"}},
			"want": {"allow": true, "headers": {"x-tenant": "acme"}},
		},
	}
	check(tc)
}

test_custom_response_shaping[note] if {
	some note, tc in {
		"response headers when allowed": {
			"input": allowed_request,
			"custom": {"response_headers": {"x-plan": "gold", "x-count": 3}},
			"want": {"allow": true, "response_headers": {"x-plan": "gold"}, "principal_scheme": "petsOAuth"},
		},
		"response headers when denied by authentication": {
			"input": request(oauth_read, {}, {}),
			"custom": {"response_headers": {"x-help": "https://acme.example/help"}},
			"want": {"allow": false, "reasons": ["credentials_missing"], "response_headers": {"x-help": "https://acme.example/help"}},
		},
		"response headers when denied for scope": {
			"input": request([{"petsOAuth": ["admin:pets"]}], {"petsOAuth": jwt_alice}, {}),
			"custom": {"response_headers": {"x-help": "h"}},
			"want": {"allow": false, "reasons": ["insufficient_scope"], "required_scopes": ["admin:pets"], "response_headers": {"x-help": "h"}},
		},
		"no response headers when empty": {
			"input": allowed_request,
			"custom": {"response_headers": {}},
			"want": {"allow": true, "absent": ["response_headers"]},
		},
		"request headers to remove, lowercased and sorted": {
			"input": allowed_request,
			"custom": {"request_headers_to_remove": ["X-Debug", "x-b", 7, ""]},
			"want": {"allow": true, "request_headers_to_remove": ["x-b", "x-debug"]},
		},
		"request headers to remove never on a denial": {
			"input": request(oauth_read, {}, {}),
			"custom": {"request_headers_to_remove": {"x-debug"}},
			"want": {"allow": false, "absent": ["request_headers_to_remove"]},
		},
		"a deny body with its status": {
			"input": allowed_request,
			"custom": {"deny": {{"reason": "over_limit", "status": 422, "body": {"error": "over_limit", "limit": 1000}}}},
			"want": {"allow": false, "reasons": ["over_limit"], "status": 422, "body": {"error": "over_limit", "limit": 1000}},
		},
		"the body of the smallest reason": {
			"input": allowed_request,
			"custom": {"deny": {{"reason": "b", "body": {"n": 2}}, {"reason": "a", "body": {"n": 1}}, {"reason": "0", "body": "not an object"}}},
			"want": {"allow": false, "reasons": ["0", "a", "b"], "body": {"n": 1}},
		},
		"no body without an object": {
			"input": allowed_request,
			"custom": {"deny": {{"reason": "a", "body": ["x"]}}},
			"want": {"allow": false, "reasons": ["a"], "absent": ["body"]},
		},
	}
	check(tc)
}
