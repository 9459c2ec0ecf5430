package shop_test

test_ownership[name] if {
	some name, tc in {
		"own orders": {"path": "/users/alice/orders", "cred": jwt_alice, "allow": true},
		"own order by id": {"path": "/users/alice/orders/7", "cred": jwt_alice, "allow": true},
		"someone else's orders": {"path": "/users/bob/orders", "cred": jwt_alice, "allow": false},
		"staff for anyone": {"path": "/users/bob/orders", "cred": jwt_staff, "allow": true},
	}
	parts := split(tc.path, "/")
	params := object.union({"uid": parts[2]}, {"oid": parts[4] | count(parts) > 4})
	template := {true: "/users/{uid}/orders/{oid}", false: "/users/{uid}/orders"}[count(parts) > 4]
	d := decide(shop_input(template, "GET", tc.path, params, tc.cred, null, monday_10))
	d.allow == tc.allow
	not_owner_answer(d, tc.allow)
}

not_owner_answer(_, true)

not_owner_answer(d, false) if {
	d.reasons == ["not_owner"]
	d.status == 403
	d.body.error == "not_owner"
}
