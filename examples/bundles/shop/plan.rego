# Per-plan header.
#
# The caller's subscription plan (data.gatehouse.authz.subscription, from
# data.gatehouse.subscriptions) goes to the upstream as x-shop-plan and
# back to the client in the response; callers on the free plan also get
# a link to the plans page, and never reach the upstream with the
# x-shop-beta header.
package gatehouse.custom

import data.gatehouse.authz

headers["x-shop-plan"] := authz.subscription.plan

response_headers["x-shop-plan"] := authz.subscription.plan

response_headers["x-shop-upgrade"] := data.shop.plan_upgrade_url if authz.subscription.plan == "free"

request_headers_to_remove contains "x-shop-beta" if authz.subscription.plan == "free"
