package shop_test

test_refund_threshold[name] if {
	some name, tc in {
		"small refund": {"body": {"amount": 120, "order": "o-1"}, "cred": jwt_alice, "reasons": []},
		"at the limit": {"body": {"amount": 1000}, "cred": jwt_alice, "reasons": []},
		"large refund without the scope": {"body": {"amount": 1000.5}, "cred": jwt_alice, "reasons": ["large_refund_needs_scope"]},
		"large refund with the scope": {"body": {"amount": 25000}, "cred": jwt_staff, "reasons": []},
		"no amount": {"body": {"order": "o-1"}, "cred": jwt_alice, "reasons": ["refund_amount_required"]},
		"amount as a string": {"body": {"amount": "99999"}, "cred": jwt_alice, "reasons": ["refund_amount_required"]},
		"no body at all": {"body": null, "cred": jwt_alice, "reasons": ["refund_amount_required"]},
		"a form body": {"body": {"amount": ["5"]}, "cred": jwt_alice, "reasons": ["refund_amount_required"]},
	}
	d := decide(shop_input_op("createRefund", "/refunds", "POST", "/refunds", {}, tc.cred, tc.body, monday_10))
	d.reasons == tc.reasons
}

test_refund_denial_body if {
	d := decide(shop_input_op("createRefund", "/refunds", "POST", "/refunds", {}, jwt_alice, {"amount": 5000}, monday_10))
	d.status == 403
	d.body == {"error": "large_refund_needs_scope", "limit": 1000, "scope": "refunds:large"}
}
