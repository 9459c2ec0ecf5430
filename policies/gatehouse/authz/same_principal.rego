# Same principal.
#
# When the satisfied alternative ANDs a client certificate (an mtls identity)
# with another credential (a token, an API key, Basic), an API can require
# that both name the same principal, so a stolen token cannot ride on someone
# else's certificate:
#
#   data.gatehouse.config.same_principal[<api name>] :=
#     {"certificate": <certificate field>, "credential": <credential field>}
#
# Certificate fields: subject and application (the mtls identity's, as the
# API's subject_from / application_from mapped them), common_name,
# spiffe_id, fingerprint_sha256, or dns_names, emails, uris (any SAN may
# match). Credential fields: subject, client_id, application, or
# claims.<name> (a top-level claim). Missing members default to
# {"certificate": "subject", "credential": "client_id"}; `true` means exactly
# that. A field that is absent on either side never matches (fail closed).
# Otherwise: principal_mismatch (403).
package gatehouse.authz

deny_reasons contains "principal_mismatch" if {
	# A plain lookup first: most APIs have no entry, and evaluating
	# same_principal_rule (two bodies, else) on every request cost ~20
	# allocations. The ground ref before it lets OPA's rule index skip the
	# body without evaluating it when no API has an entry (6 allocations).
	data.gatehouse.config.same_principal
	data.gatehouse.config.same_principal[input.api.name]
	rule := same_principal_rule
	alternative >= 0
	some cname in schemes
	cert := input.credentials[cname]
	cert.type == "mtls"
	some oname in schemes
	other := input.credentials[oname]
	other.type != "mtls"
	not principal_matches(cert, other, rule)
}

default_same_principal := {"certificate": "subject", "credential": "client_id"}

same_principal_rule := default_same_principal if {
	is_true(data.gatehouse.config.same_principal[input.api.name])
} else := rule if {
	given := data.gatehouse.config.same_principal[input.api.name]
	is_object(given)
	rule := object.union(default_same_principal, given)
}

principal_matches(cert, other, rule) if {
	want := credential_value(other, rule.credential)
	is_string(want)
	want != ""
	some v in certificate_values(cert, rule.certificate)
	v == want
}

credential_value(cred, field) := cred.claims[substring(field, 7, -1)] if {
	startswith(field, "claims.")
} else := cred[field] if {
	field in {"subject", "client_id", "application"}
}

certificate_values(cert, field) := [cert[field]] if field in {"subject", "application"}

certificate_values(cert, field) := [cert.certificate[field]] if {
	field in {"common_name", "spiffe_id", "fingerprint_sha256"}
}

certificate_values(cert, field) := cert.certificate[field] if {
	field in {"dns_names", "emails", "uris"}
}
