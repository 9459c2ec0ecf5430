# User extension points.
#
# Users extend the base policy from their own bundle, in package
# gatehouse.custom:
#
#   deny contains {"reason": "tenant_suspended", "message": "...", "status": 403} if { ... }
#   headers := {"x-tenant": "acme"} if { ... }
#
# Both may read input and data.gatehouse.authz.principal, alternative,
# schemes and public, but never data.gatehouse.authz.decision, allow,
# deny_reasons or full_decision: that would be a recursion, which the compiler
# rejects (the bundle is refused and the previous one kept).
package gatehouse.authz

# Users' deny rules are type-checked together with this file, so everything
# here reads their elements through functions (whose parameters are untyped):
# a well-typed rule such as `deny contains {"reason": "x"} if ...` must
# compile even though its elements have no status or message.

# Each element of data.gatehouse.custom.deny denies with its reason. An element
# that is not an object with a non-empty string reason still denies, with
# "custom_deny", so a mistyped rule (or data) fails closed.
deny_reasons contains custom_reason(d) if {
	# The plain ref first: without user deny rules it is undefined at once,
	# where the iteration alone cost ~10 allocations per request.
	data.gatehouse.custom.deny
	some d in data.gatehouse.custom.deny
}

# A boolean deny in data still denies. (A rule written `deny if { ... }` does
# not compile with this file: the bundle is refused, which is closed too.)
deny_reasons contains "custom_deny" if is_true(data.gatehouse.custom.deny)

# Not `x == true`: that would type the parameter boolean and refuse the set
# of a well-formed deny rule at compile time.
is_true(x) if {
	is_boolean(x)
	x
}

custom_reason(d) := d.reason if {
	is_string(d.reason)
	d.reason != ""
} else := "custom_deny"

custom_status_of(d) := d.status if {
	is_number(d.status)
	d.status == floor(d.status)
	d.status >= 400
	d.status <= 599
}

custom_message_of(d) := d.message if {
	is_string(d.message)
	d.message != ""
}

# METADATA
# title: custom_status
# description: |
#   The HTTP status custom deny rules ask for: an integer 400-599, the highest
#   when several ask. Undefined when none asks.
custom_status := max(statuses) if {
	statuses := {s |
		some d in data.gatehouse.custom.deny
		s := custom_status_of(d)
	}
	count(statuses) > 0
}

# METADATA
# title: custom_messages
# description: |
#   Messages of the custom deny rules, sorted, for decision logs (never sent
#   to the client by the gateway). Undefined when there are none.
custom_messages := messages if {
	messages := sort({m |
		some d in data.gatehouse.custom.deny
		m := custom_message_of(d)
	})
	count(messages) > 0
}

# METADATA
# title: headers
# description: |
#   Extra upstream headers from data.gatehouse.custom.headers (an object);
#   only string names and values are kept. Only sent when allowed.
default headers := {}

headers := {k: v |
	some k, v in data.gatehouse.custom.headers
	is_string(k)
	is_string(v)
} if data.gatehouse.custom.headers

# METADATA
# title: response_headers
# description: |
#   Headers for the client's response, allowed or denied, from
#   data.gatehouse.custom.response_headers (an object); only string names and
#   values are kept. The gateway refuses names it owns (framing, hop-by-hop,
#   credentials, identity, CORS, challenges): see docs/writing-policies.md.
default response_headers := {}

response_headers := {k: v |
	some k, v in data.gatehouse.custom.response_headers
	is_string(k)
	is_string(v)
} if data.gatehouse.custom.response_headers

# METADATA
# title: request_headers_to_remove
# description: |
#   Request headers the upstream must not receive, on allow, from
#   data.gatehouse.custom.request_headers_to_remove (a set or array of
#   names), lowercased and sorted. Headers the gateway sets upstream itself
#   are set again after the removal.
default request_headers_to_remove := []

request_headers_to_remove := sort({lower(h) |
	some h in data.gatehouse.custom.request_headers_to_remove
	is_string(h)
	h != ""
}) if data.gatehouse.custom.request_headers_to_remove

custom_body_of(d) := d.body if is_object(d.body)

# METADATA
# title: custom_body
# description: |
#   The JSON body a custom deny rule asks to send instead of the
#   problem document: the body of the element with the smallest reason
#   (then the smallest body) when several give one. Undefined when none
#   does. The gateway sends it only when a custom reason governs the answer.
custom_body := pairs[0][1] if {
	pairs := sort([[custom_reason(d), b] |
		some d in data.gatehouse.custom.deny
		b := custom_body_of(d)
	])
	count(pairs) > 0
}
