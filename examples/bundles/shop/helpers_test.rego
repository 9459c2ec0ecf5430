# Shared by the shop bundle's tests:
#   go tool opa test policies/ examples/bundles/shop/
#   gatehouse policy test examples/bundles/shop
package shop_test

import data.gatehouse.authz

# Berlin times on 2026-11-30 (a Monday) and 2026-11-29 (a Sunday), Unix ns.
monday_10 := time.parse_rfc3339_ns("2026-11-30T10:00:00+01:00")

monday_0759 := time.parse_rfc3339_ns("2026-11-30T07:59:00+01:00")

monday_18 := time.parse_rfc3339_ns("2026-11-30T18:00:00+01:00")

sunday_12 := time.parse_rfc3339_ns("2026-11-29T12:00:00+01:00")

jwt_alice := {
	"scheme": "jwt", "type": "jwt", "subject": "alice", "source": "corp",
	"client_id": "app-1", "scopes": ["orders:read"], "token_id": "jti-1",
	"issued_at": 1795680000, "claims": {"sub": "alice", "tenant": "shop-eu"},
}

jwt_staff := object.union(jwt_alice, {"subject": "carol", "scopes": ["orders:read", "orders:any", "refunds:large"], "claims": {"sub": "carol", "tenant": "shop-eu"}})

shop_input(template, method, path, params, cred, body, t) := shop_input_op("op", template, method, path, params, cred, body, t)

# shop_input_op builds the input of one request to the shop API; body null
# means the request had none (input.request.body absent).
shop_input_op(op_id, template, method, path, params, cred, body, t) := {
	"time": t,
	"request": object.union(
		{
			"id": "t-1", "method": method, "path": concat("", ["/shop/v2", path]), "host": "api.shop.example",
			"scheme": "https", "client_ip": "198.51.100.7", "headers": {}, "query": {}, "path_params": params,
		},
		{"body": body | body != null},
	),
	"api": {"name": "shop", "version": "2", "base_path": "/shop/v2"},
	"operation": {
		"id": op_id, "method": method, "path": template, "public": false,
		"security": [{"jwt": []}], "scope_mode": "all",
	},
	"schemes": {"jwt": {"type": "http", "scheme": "bearer"}},
	"credentials": {"jwt": cred},
	"rejections": {},
}

decide(doc) := d if {
	d := authz.decision with input as doc
}
