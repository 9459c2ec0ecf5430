# Body-amount threshold.
#
# Refunds above data.shop.refunds.large_amount need the refunds:large
# scope. The createRefund operation opts in to the body
# (x-gatehouse-policy-body: true), so input.request.body is the parsed
# JSON; a refund without a numeric amount is refused (fail closed: a rule
# that cannot read the amount must not let it through).
package gatehouse.custom

import data.gatehouse.authz

refund_limit := data.shop.refunds.large_amount

deny contains {"reason": "large_refund_needs_scope", "status": 403, "body": {"error": "large_refund_needs_scope", "limit": refund_limit, "scope": data.shop.refunds.large_scope}} if {
	input.operation.id == "createRefund"
	refund_amount_is_number
	input.request.body.amount > refund_limit
	not data.shop.refunds.large_scope in authz.principal.scopes
}

deny contains {"reason": "refund_amount_required", "status": 422, "body": {"error": "refund_amount_required", "field": "amount"}} if {
	input.operation.id == "createRefund"
	not refund_amount_is_number
}

refund_amount_is_number if is_number(input.request.body.amount)
