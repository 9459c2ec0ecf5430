package shop_test

test_tenant_claim[name] if {
	some name, tc in {
		"the shop's tenant": {"cred": jwt_alice, "reasons": []},
		"another tenant": {"cred": object.union(jwt_alice, {"claims": {"tenant": "shop-us"}}), "reasons": ["wrong_tenant"]},
		"no tenant claim": {"cred": json.patch(jwt_alice, [{"op": "remove", "path": "/claims/tenant"}]), "reasons": ["wrong_tenant"]},
		"a numeric look-alike": {"cred": object.union(jwt_alice, {"claims": {"tenant": 1}}), "reasons": ["wrong_tenant"]},
	}
	d := decide(shop_input("/users/{uid}/orders", "GET", "/users/alice/orders", {"uid": "alice"}, tc.cred, null, monday_10))
	d.reasons == tc.reasons
}
