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

# Each element of data.gatehouse.custom.deny denies with its reason. An element
# that is not an object with a non-empty string reason still denies, with
# "custom_deny", so a mistyped rule fails closed.
deny_reasons contains custom_reason(d) if {
	some d in data.gatehouse.custom.deny
}

# A boolean `deny if { ... }` written instead of a set still denies.
deny_reasons contains "custom_deny" if data.gatehouse.custom.deny == true

custom_reason(d) := d.reason if {
	is_string(d.reason)
	d.reason != ""
} else := "custom_deny"

# METADATA
# title: custom_status
# description: |
#   The HTTP status custom deny rules ask for: an integer 400-599, the highest
#   when several ask. Undefined when none asks.
custom_status := max(statuses) if {
	count(data.gatehouse.custom.deny) > 0
	statuses := {s |
		some d in data.gatehouse.custom.deny
		s := d.status
		is_number(s)
		s == floor(s)
		s >= 400
		s <= 599
	}
	count(statuses) > 0
}

# METADATA
# title: custom_messages
# description: |
#   Messages of the custom deny rules, sorted, for decision logs (never sent
#   to the client by the gateway). Undefined when there are none.
custom_messages := messages if {
	count(data.gatehouse.custom.deny) > 0
	messages := sort({m |
		some d in data.gatehouse.custom.deny
		m := d.message
		is_string(m)
		m != ""
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
}
