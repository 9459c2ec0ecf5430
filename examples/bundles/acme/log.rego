# METADATA
# title: ACME's decision-log masking
# description: |
#   OPA's decision-log mask policy (data.system.log.mask): JSON pointers
#   into the logged event that the gateway erases before writing it, on top
#   of the credential headers it always erases.
package system.log

mask contains "/input/request/headers/x-acme-internal"

mask contains "/result/principal/claims/email"
