# Revocation
#
# A credential is revoked when its authenticator said so, when its token_id
# (jti) is a key of data.gatehouse.revocations.jti, or when it was issued
# before data.gatehouse.revocations.issued_before[<identity.source>]
# (unix seconds). A revoked credential always denies, allow_fallthrough or not.
package gatehouse.authz

# METADATA
# title: revoked
# description: Some credential presented for this operation is revoked.
revoked if revoked_rejection

revoked_rejection if {
	some r in input.rejections
	r.reason == "revoked"
}

revoked if {
	some cred in input.credentials
	revoked_credential(cred)
}

# Any value counts, even false or null: the key's presence revokes.
revoked_credential(cred) if {
	_ = data.gatehouse.revocations.jti[cred.token_id]
}

# A credential without a numeric issued_at cannot prove it is newer than the
# cutoff of its source, so it is treated as revoked (fail closed).
revoked_credential(cred) if {
	cutoff := data.gatehouse.revocations.issued_before[cred.source]
	not issued_since(cred, cutoff)
}

# A helper rather than `not cred.issued_at >= cutoff`: Rego evaluates the
# arguments of a call before `not`, so an undefined issued_at would make that
# expression fail instead of succeed.
issued_since(cred, cutoff) if {
	is_number(cred.issued_at)
	cred.issued_at >= cutoff
}
