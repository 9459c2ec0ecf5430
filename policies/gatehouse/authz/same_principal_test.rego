# Same principal across a certificate and a token.
package gatehouse.authz_test

cert_p1 := object.union(cert_partner, {
	"subject": "partner-1",
	"application": "partner-app",
	"certificate": {
		"common_name": "partner-1",
		"spiffe_id": "spiffe://partners.example/p1",
		"dns_names": ["p1.partners.example", "partner-1"],
		"emails": [],
		"uris": ["spiffe://partners.example/p1"],
		"fingerprint_sha256": "ab",
	},
})

token_for(client_id) := object.union(jwt_alice, {"client_id": client_id, "claims": {"azp": client_id}})

and_req(token) := request(cert_and_token, {"petsOAuth": token, "clientCert": cert_p1}, {})

test_same_principal[note] if {
	some note, tc in {
		"no rule: anyone's token with anyone's certificate": {
			"input": and_req(token_for("someone-else")),
			"want": {"allow": true},
		},
		"true: certificate subject equals client_id": {
			"input": and_req(token_for("partner-1")),
			"config": {"same_principal": {"petstore": true}},
			"want": {"allow": true},
		},
		"true: mismatch": {
			"input": and_req(token_for("mallory")),
			"config": {"same_principal": {"petstore": true}},
			"want": {"allow": false, "reasons": ["principal_mismatch"], "alternative": 0},
		},
		"spiffe_id against a claim": {
			"input": and_req(object.union(jwt_alice, {"claims": {"spiffe": "spiffe://partners.example/p1"}})),
			"config": {"same_principal": {"petstore": {"certificate": "spiffe_id", "credential": "claims.spiffe"}}},
			"want": {"allow": true},
		},
		"any DNS SAN may match": {
			"input": and_req(token_for("partner-1")),
			"config": {"same_principal": {"petstore": {"certificate": "dns_names"}}},
			"want": {"allow": true},
		},
		"application against application": {
			"input": and_req(object.union(jwt_alice, {"application": "partner-app"})),
			"config": {"same_principal": {"petstore": {"certificate": "application", "credential": "application"}}},
			"want": {"allow": true},
		},
		"absent claim never matches": {
			"input": and_req(token_for("partner-1")),
			"config": {"same_principal": {"petstore": {"certificate": "common_name", "credential": "claims.nope"}}},
			"want": {"allow": false, "reasons": ["principal_mismatch"]},
		},
		"unknown field never matches": {
			"input": and_req(token_for("partner-1")),
			"config": {"same_principal": {"petstore": {"certificate": "serial", "credential": "client_id"}}},
			"want": {"allow": false, "reasons": ["principal_mismatch"]},
		},
		"rule for another API": {
			"input": and_req(token_for("mallory")),
			"config": {"same_principal": {"other": true}},
			"want": {"allow": true},
		},
		"certificate alone: nothing to compare": {
			"input": request([{"clientCert": []}], {"clientCert": cert_p1}, {}),
			"config": {"same_principal": {"petstore": true}},
			"want": {"allow": true},
		},
		"token alone on an OR: nothing to compare": {
			"input": request(oauth_or_basic_cert, {"petsOAuth": token_for("mallory")}, {}),
			"config": {"same_principal": {"petstore": true}},
			"want": {"allow": true},
		},
		"Basic ANDed with a certificate": {
			"input": request(oauth_or_basic_cert, {"basicAuth": basic_bob, "clientCert": cert_p1}, {}),
			"config": {"same_principal": {"petstore": {"certificate": "common_name", "credential": "subject"}}},
			"want": {"allow": false, "reasons": ["principal_mismatch"], "alternative": 1},
		},
	}
	check(tc)
}
