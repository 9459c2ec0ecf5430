# Tests of ACME's rules together with the base policy:
#   go tool opa test policies/ examples/bundles/acme/
package gatehouse.custom_test

import data.gatehouse.authz

# 11:00 and 22:30 in Berlin on 2026-11-26 (Unix nanoseconds).
day := 1795687200000000000

night := 1795728600000000000

jwt_alice := {
	"scheme": "jwt", "type": "jwt", "subject": "alice", "source": "corp",
	"client_id": "app-1", "scopes": ["read", "write"], "token_id": "jti-1",
	"issued_at": 1795680000, "claims": {"sub": "alice", "tenant": "acme", "email": "alice@acme.example"},
}

basic_bob := {"scheme": "basic", "type": "basic", "subject": "bob", "source": "users", "scopes": ["read", "write"]}

# request builds an input for the shapes API.
request(op_id, method, cred, client_ip, t) := {
	"time": t,
	"request": {
		"id": "t-1", "method": method, "path": "/shapes/single", "host": "api.acme.example",
		"scheme": "https", "client_ip": client_ip, "headers": {},
	},
	"api": {"name": "shapes", "version": "1", "base_path": "/shapes"},
	"operation": {
		"id": op_id, "method": method, "path": "/single", "public": false,
		"security": [{cred.scheme: []}], "scope_mode": "all",
	},
	"schemes": {"jwt": {"type": "http", "scheme": "bearer"}, "basic": {"type": "http", "scheme": "basic"}},
	"credentials": {cred.scheme: cred},
	"rejections": {},
}

decide(doc) := d if {
	d := authz.decision with input as doc
}

test_ok_read_from_anywhere if {
	d := decide(request("single", "GET", jwt_alice, "198.51.100.7", night))
	d.allow
	d.headers == {"x-acme-subject": "alice", "x-acme-tenant": "acme"}
}

test_ok_write_from_office_in_business_hours if {
	d := decide(request("singleWrite", "POST", jwt_alice, "192.0.2.10", day))
	d.allow
}

test_fail_write_outside_office if {
	d := decide(request("singleWrite", "POST", jwt_alice, "198.51.100.7", day))
	not d.allow
	d.reasons == ["outside_office_network"]
	d.status == 403
}

test_ok_office_ipv6 if {
	d := decide(request("singleWrite", "POST", jwt_alice, "2001:db8:ace::5", day))
	d.allow
}

test_fail_write_at_night if {
	d := decide(request("singleWrite", "POST", jwt_alice, "192.0.2.10", night))
	d.reasons == ["outside_business_hours"]
}

test_fail_wrong_tenant if {
	other := object.union(jwt_alice, {"claims": {"sub": "alice", "tenant": "globex"}})
	d := decide(request("single", "GET", other, "192.0.2.10", day))
	d.reasons == ["claim_mismatch"]
	d.messages == ["claim tenant"]
}

test_fail_missing_claim if {
	other := json.remove(jwt_alice, ["claims/tenant"])
	d := decide(request("single", "GET", other, "192.0.2.10", day))
	d.reasons == ["claim_mismatch"]
}

test_ok_claims_not_required_of_basic if {
	d := decide(request("single", "GET", basic_bob, "192.0.2.10", day))
	d.allow
	d.headers == {"x-acme-subject": "bob"}
}

test_fail_suspended_client if {
	other := object.union(jwt_alice, {"client_id": "app-suspended"})
	d := decide(request("single", "GET", other, "192.0.2.10", day))
	d.reasons == ["application_suspended"]
}

test_fail_unauthenticated_is_still_401_reason if {
	doc := json.patch(request("single", "GET", jwt_alice, "192.0.2.10", day), [{"op": "replace", "path": "/credentials", "value": {}}])
	d := decide(doc)
	d.reasons == ["credentials_missing"]
}

test_mask_erases_internal_header_and_email if {
	data.system.log.mask == {"/input/request/headers/x-acme-internal", "/result/principal/claims/email"}
}
