# Revocation: by rejection reason, by jti, by issued_before per source.
package gatehouse.authz_test

revocations := {
	"jti": {"jti-alice": true, "key-1": {"revoked_at": 1700000050}, "jti-false": false},
	"issued_before": {"partner-idp": 1700000000},
}

test_revoked[note] if {
	some note, tc in {
		"by the authenticator (rejection reason revoked)": {
			"input": request(oauth_read, {}, {"petsOAuth": {"reason": "revoked", "type": "jwt"}}),
			"want": {"allow": false, "reasons": ["revoked"], "rejected": {"petsOAuth": "revoked"}},
		},
		"by jti in data": {
			"input": request(oauth_read, {"petsOAuth": jwt_alice}, {}),
			"revocations": revocations,
			"want": {"allow": false, "reasons": ["revoked"], "alternative": 0, "absent": ["principal", "rejected"]},
		},
		"by jti of an API key, any value revokes": {
			"input": request([{"partnerKey": []}], {"partnerKey": key_acme}, {}),
			"revocations": revocations,
			"want": {"allow": false, "reasons": ["revoked"]},
		},
		"by jti whose value is false": {
			"input": request(oauth_read, {"petsOAuth": object.union(jwt_alice, {"token_id": "jti-false"})}, {}),
			"revocations": revocations,
			"want": {"allow": false, "reasons": ["revoked"]},
		},
		"by issued_before of its source": {
			"input": request(oauth_read, {"petsOAuth": object.union(jwt_alice, {"token_id": "jti-other", "source": "partner-idp", "issued_at": 1699999999})}, {}),
			"revocations": revocations,
			"want": {"allow": false, "reasons": ["revoked"]},
		},
		"issued_before: no issued_at is treated as revoked": {
			"input": request(oauth_read, {"petsOAuth": object.remove(object.union(jwt_alice, {"token_id": "jti-other", "source": "partner-idp"}), ["issued_at"])}, {}),
			"revocations": revocations,
			"want": {"allow": false, "reasons": ["revoked"]},
		},
		"issued_before: a non-numeric issued_at is treated as revoked": {
			"input": request(oauth_read, {"petsOAuth": object.union(jwt_alice, {"token_id": "jti-other", "source": "partner-idp", "issued_at": "1800000000"})}, {}),
			"revocations": revocations,
			"want": {"allow": false, "reasons": ["revoked"]},
		},
		"a revoked credential of an unused alternative still denies": {
			"input": request(oauth_or_basic_cert, {"petsOAuth": object.union(jwt_alice, {"token_id": "jti-other"}), "partnerKey": key_acme}, {}),
			"revocations": revocations,
			"want": {"allow": false, "reasons": ["revoked"]},
		},
		"revoked wins over insufficient_scope": {
			"input": request([{"petsOAuth": ["admin:pets"]}], {"petsOAuth": jwt_alice}, {}),
			"revocations": revocations,
			"want": {"allow": false, "reasons": ["revoked"], "absent": ["required_scopes"]},
		},
		"revoked never falls through, even with allow_fallthrough": {
			"input": request(
				oauth_or_basic_cert,
				{"basicAuth": basic_bob, "clientCert": cert_partner},
				{"petsOAuth": {"reason": "revoked", "type": "jwt"}},
			),
			"config": {"allow_fallthrough": {"petstore": true}},
			"want": {"allow": false, "reasons": ["revoked"], "alternative": 1},
		},
		"revoked wins over another invalid credential": {
			"input": request(
				oauth_or_basic_cert,
				{},
				{"petsOAuth": {"reason": "revoked", "type": "jwt"}, "basicAuth": {"reason": "invalid_credentials", "type": "basic"}},
			),
			"want": {"allow": false, "reasons": ["revoked"], "rejected": {"petsOAuth": "revoked", "basicAuth": "invalid_credentials"}},
		},
	}
	check(tc)
}

test_not_revoked[note] if {
	some note, tc in {
		"another jti": {
			"input": request(oauth_read, {"petsOAuth": object.union(jwt_alice, {"token_id": "jti-other"})}, {}),
			"revocations": revocations,
			"want": {"allow": true},
		},
		"no token_id": {
			"input": request(oauth_read, {"petsOAuth": object.remove(jwt_alice, ["token_id"])}, {}),
			"revocations": revocations,
			"want": {"allow": true},
		},
		"issued at the cutoff": {
			"input": request(oauth_read, {"petsOAuth": object.union(jwt_alice, {"token_id": "jti-other", "source": "partner-idp", "issued_at": 1700000000})}, {}),
			"revocations": revocations,
			"want": {"allow": true},
		},
		"a cutoff of another source": {
			"input": request(oauth_read, {"petsOAuth": object.union(jwt_alice, {"token_id": "jti-other", "issued_at": 1})}, {}),
			"revocations": revocations,
			"want": {"allow": true},
		},
		"no revocation data loaded": {
			"input": request(oauth_read, {"petsOAuth": jwt_alice}, {}),
			"want": {"allow": true},
		},
	}
	check(tc)
}
