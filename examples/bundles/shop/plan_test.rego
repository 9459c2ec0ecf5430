package shop_test

# Keyed by identity source (jwt_alice's is corp), then application.
subscriptions := {"corp": {
	"app-gold": [{"api": "shop", "plan": "gold"}],
	"app-free": [{"api": "shop", "version": "2", "plan": "free"}],
}}

plan_decision(client) := d if {
	d := decide(shop_input("/users/{uid}/orders", "GET", "/users/alice/orders", {"uid": "alice"}, object.union(jwt_alice, {"application": client}), null, monday_10)) with data.gatehouse.subscriptions as subscriptions
}

test_plan_headers[name] if {
	some name, tc in {
		"gold": {"app": "app-gold", "upstream": {"x-shop-plan": "gold"}, "client": {"x-shop-plan": "gold"}, "remove": []},
		"free": {"app": "app-free", "upstream": {"x-shop-plan": "free"}, "client": {"x-shop-plan": "free", "x-shop-upgrade": "https://shop.example/plans"}, "remove": ["x-shop-beta"]},
		"no subscription": {"app": "app-none", "upstream": {}, "client": {}, "remove": []},
	}
	d := plan_decision(tc.app)
	d.allow
	object.get(d, "headers", {}) == tc.upstream
	object.get(d, "response_headers", {}) == tc.client
	object.get(d, "request_headers_to_remove", []) == tc.remove
}
