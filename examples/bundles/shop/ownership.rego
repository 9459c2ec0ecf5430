# Ownership by path parameter.
#
# A user may read and change only their own orders:
# /users/{uid}/orders and /users/{uid}/orders/{oid}, where {uid} must be
# the caller's subject (input.request.path_params, from the OpenAPI
# template). Staff tokens (scope orders:any) may act for anyone.
package gatehouse.custom

import data.gatehouse.authz

deny contains {"reason": "not_owner", "status": 403, "body": {"error": "not_owner", "message": "these orders belong to another user"}} if {
	startswith(input.operation.path, "/users/{uid}/orders")
	authz.alternative >= 0
	input.request.path_params.uid != authz.principal.subject
	not "orders:any" in authz.principal.scopes
}
