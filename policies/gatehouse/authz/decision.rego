# METADATA
# title: Gatehouse base authorization policy
# description: |
#   Entry point: data.gatehouse.authz.decision, always defined. Default deny.
#   Any file of this package denies with
#     deny_reasons contains "reason" if { ... }
#   without editing this file.
package gatehouse.authz

# deny_reasons is the extension point: every reason to deny besides
# authentication itself. A partial set: custom.rego and later files
# (subscriptions, API-key restrictions) each add their own with
#   deny_reasons contains "reason" if { ... }
# Any element denies, even on public operations, so rules that only make sense
# for an authenticated caller must say so (alternative >= 0, or read
# principal). The fast paths below only answer when it is empty.

# METADATA
# title: allow
# description: |
#   Public, or a satisfied alternative with no revoked or invalid credential;
#   and no deny reason.
default allow := false

# Both bodies compare input.operation.public themselves (what public reads)
# rather than call public: OPA's rule index then skips the second body on
# every non-public operation without evaluating it.
allow if {
	not input.operation.public == true
	alternative >= 0
	not revoked
	not invalid_credentials
	count(deny_reasons) == 0
}

allow if {
	input.operation.public == true
	count(deny_reasons) == 0
}

# METADATA
# title: decision
# description: |
#   The decision the gateway enforces (schemas/decision.schema.json).
#   The first four bodies are fast paths for the requests a gateway sees
#   most: one credential satisfying a one-scheme first alternative, or
#   lacking a scope of the only one; no credential at all; only rejected
#   credentials. Each yields exactly what full_decision yields (every table
#   test checks it) and gives way to it whenever anything else is in play:
#   several credentials, custom headers, deny reasons, an anonymous
#   alternative, scope_mode any, revocation.
default decision := {"allow": false, "reasons": ["policy_error"], "alternative": -1}

decision := {
	"allow": true,
	"reasons": [],
	"alternative": 0,
	"schemes": [name],
	"principal": cred,
} if {
	input.operation.public == false
	input.rejections == {}
	count(input.credentials) == 1
	first := input.operation.security[0]
	count(first) == 1
	some name, required in first
	cred := input.credentials[name]
	not input.operation.scope_mode == "any"
	not lacks_scope(cred, required)
	not revoked_credential(cred)
	count(deny_reasons) == 0
	not shaped_or_headers
} else := {
	"allow": false,
	"reasons": ["insufficient_scope"],
	"alternative": -1,
	"required_scopes": sort({s | some s in required}),
} if {
	input.operation.public == false
	input.rejections == {}
	count(input.credentials) == 1
	count(input.operation.security) == 1
	first := input.operation.security[0]
	count(first) == 1
	some name, required in first
	cred := input.credentials[name]
	not input.operation.scope_mode == "any"
	lacks_scope(cred, required)
	not revoked_credential(cred)
	count(deny_reasons) == 0
	not shaped
} else := {
	"allow": false,
	"reasons": ["credentials_missing"],
	"alternative": -1,
} if {
	input.rejections == {}
	unauthenticated
	not shaped
} else := {
	"allow": false,
	"reasons": ["credentials_invalid"],
	"alternative": -1,
	"rejected": rejected,
} if {
	count(input.rejections) > 0
	not revoked_rejection
	unauthenticated
	count(rejected) > 0
	not shaped
} else := full_decision

# shaped: the bundle shapes responses (response headers, request headers to
# remove); the fast paths give way to full_decision, which carries them.
shaped if data.gatehouse.custom.response_headers

shaped if data.gatehouse.custom.request_headers_to_remove

# shaped_or_headers: shaped, or the bundle adds upstream headers; the allow
# fast path gives way to full_decision. Naked data refs rather than two
# negations or a call of shaped: OPA's rule index skips a body whose ref is
# absent from the data (6 allocations less per allowed request,
# policies/bench_test.go BenchmarkDecisionEngine).
shaped_or_headers if data.gatehouse.custom.headers

shaped_or_headers if data.gatehouse.custom.response_headers

shaped_or_headers if data.gatehouse.custom.request_headers_to_remove

# No credential was verified on a non-public operation that requires some and
# has no anonymous alternative, and nothing else denies: for the fast paths.
unauthenticated if {
	input.operation.public == false
	input.credentials == {}
	count(input.operation.security) > 0
	not anonymous_allowed
	count(deny_reasons) == 0
}

anonymous_allowed if {
	some alt in input.operation.security
	count(alt) == 0
}

# METADATA
# title: full_decision
# description: |
#   The decision, computed without shortcuts. The first body is the second
#   without object.union: it applies only when no member of allow_extras can
#   be defined (each of those needs a rejection or one of the data refs of
#   shaped_or_headers), where the union would add nothing.
full_decision := {
	"allow": true,
	"reasons": [],
	"alternative": alternative,
	"schemes": schemes,
	"principal": principal,
} if {
	allow
	input.rejections == {}
	not shaped_or_headers
} else := object.union(
	{
		"allow": true,
		"reasons": [],
		"alternative": alternative,
		"schemes": schemes,
		"principal": principal,
	},
	allow_extras,
) if {
	allow
} else := object.union(
	{
		"allow": false,
		"reasons": reasons,
		"alternative": alternative,
	},
	deny_extras,
)

# Optional members, present only when non-empty.
# (Cheap guards first: most requests have neither.) A new member of
# allow_extras must keep full_decision's first body from applying when it
# can be defined.
allow_extras["headers"] := headers if {
	data.gatehouse.custom.headers
	count(headers) > 0
}

allow_extras["response_headers"] := response_headers if {
	data.gatehouse.custom.response_headers
	count(response_headers) > 0
}

allow_extras["request_headers_to_remove"] := request_headers_to_remove if {
	data.gatehouse.custom.request_headers_to_remove
	count(request_headers_to_remove) > 0
}

allow_extras["rejected"] := rejected if {
	count(input.rejections) > 0
	count(rejected) > 0
}

deny_extras["required_scopes"] := required_scopes if authn_reason == "insufficient_scope"

deny_extras["rejected"] := rejected if {
	count(input.rejections) > 0
	count(rejected) > 0
}

deny_extras["status"] := custom_status

deny_extras["body"] := custom_body

deny_extras["response_headers"] := response_headers if {
	data.gatehouse.custom.response_headers
	count(response_headers) > 0
}

deny_extras["messages"] := custom_messages

# METADATA
# title: reasons
# description: Why a request is denied, sorted; never empty on a denial.
reasons := sorted if {
	sorted := sort(all_reasons)
	count(sorted) > 0
} else := ["policy_error"]

all_reasons contains r if some r in deny_reasons

all_reasons contains authn_reason if not public
