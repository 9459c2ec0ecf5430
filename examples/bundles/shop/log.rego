# Decision-log masking for the shop. The gateway masks input.request.body
# in every decision-log record; data.system.log.unmask lists the body fields
# that may be logged as they are (JSON pointers under /input/request/body).
# data.system.log.mask then erases whatever else the shop keeps out of logs.
package system.log

unmask contains "/input/request/body/amount"

unmask contains "/input/request/body/currency"

mask contains "/input/request/headers/x-shop-beta"
