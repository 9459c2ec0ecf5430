# Certificate-bound tokens (RFC 8705).
package gatehouse.authz_test

bound_jwt := object.union(jwt_alice, {"confirmation": "x5t-partner"})

with_cert(req, x5t) := object.union(req, {"request": {"client_certificate": {
	"x5t_s256": x5t,
	"fingerprint_sha256": "00",
	"forwarded": false,
}}})

cert_and_token := [{"petsOAuth": ["read:pets"], "clientCert": []}]

test_binding[note] if {
	some note, tc in {
		"bound token with its certificate": {
			"input": with_cert(request(oauth_read, {"petsOAuth": bound_jwt}, {}), "x5t-partner"),
			"want": {"allow": true, "alternative": 0},
		},
		"bound token with another certificate": {
			"input": with_cert(request(oauth_read, {"petsOAuth": bound_jwt}, {}), "x5t-mallory"),
			"want": {"allow": false, "reasons": ["binding_required"]},
		},
		"bound token without a certificate": {
			"input": request(oauth_read, {"petsOAuth": bound_jwt}, {}),
			"want": {"allow": false, "reasons": ["binding_required"]},
		},
		"bound token on an unused alternative still needs its certificate": {
			"input": request(oauth_or_basic_cert, {"petsOAuth": bound_jwt, "basicAuth": basic_bob, "clientCert": cert_partner}, {}),
			"want": {"allow": false, "reasons": ["binding_required"]},
		},
		"bound token and certificate ANDed": {
			"input": with_cert(request(cert_and_token, {"petsOAuth": bound_jwt, "clientCert": cert_partner}, {}), "x5t-partner"),
			"want": {"allow": true, "schemes": ["clientCert", "petsOAuth"], "principal_scheme": "petsOAuth"},
		},
		"unbound token, binding not required": {
			"input": with_cert(request(oauth_read, {"petsOAuth": jwt_alice}, {}), "x5t-partner"),
			"want": {"allow": true},
		},
		"unbound token, binding required for the API": {
			"input": with_cert(request(oauth_read, {"petsOAuth": jwt_alice}, {}), "x5t-partner"),
			"config": {"require_certificate_binding": {"petstore": true}},
			"want": {"allow": false, "reasons": ["binding_required"], "alternative": 0},
		},
		"bound token, binding required for the API": {
			"input": with_cert(request(oauth_read, {"petsOAuth": bound_jwt}, {}), "x5t-partner"),
			"config": {"require_certificate_binding": {"petstore": true}},
			"want": {"allow": true},
		},
		"binding required for another API only": {
			"input": request(oauth_read, {"petsOAuth": jwt_alice}, {}),
			"config": {"require_certificate_binding": {"other": true}},
			"want": {"allow": true},
		},
		"binding required does not apply to Basic": {
			"input": request([{"basicAuth": []}], {"basicAuth": basic_bob}, {}),
			"config": {"require_certificate_binding": {"petstore": true}},
			"want": {"allow": true},
		},
		"binding required: a truthy non-boolean is not true": {
			"input": request(oauth_read, {"petsOAuth": jwt_alice}, {}),
			"config": {"require_certificate_binding": {"petstore": "yes"}},
			"want": {"allow": true},
		},
		"missing credentials stay credentials_missing": {
			"input": with_cert(request(oauth_read, {}, {}), "x5t-partner"),
			"config": {"require_certificate_binding": {"petstore": true}},
			"want": {"allow": false, "reasons": ["credentials_missing"]},
		},
	}
	check(tc)
}
