package shop_test

test_refund_hours[name] if {
	some name, tc in {
		"Monday 10:00 Berlin": {"time": monday_10, "allow": true},
		"Monday 07:59 Berlin": {"time": monday_0759, "allow": false},
		"Monday 18:00 Berlin": {"time": monday_18, "allow": false},
		"Sunday noon": {"time": sunday_12, "allow": false},
	}
	d := decide(shop_input_op("createRefund", "/refunds", "POST", "/refunds", {}, jwt_alice, {"amount": 10}, tc.time))
	d.allow == tc.allow
	hours_answer(d, tc.allow)
}

hours_answer(_, true)

hours_answer(d, false) if {
	d.reasons == ["outside_refund_hours"]
	d.body.hours == "Monday-Friday 08:00-18:00 Europe/Berlin"
}
