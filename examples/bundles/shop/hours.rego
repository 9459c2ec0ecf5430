# Time window.
#
# Refunds are issued only on working days during office hours in the
# shop's time zone (data.shop.refund_hours). input.time is the request
# time in Unix nanoseconds; `gatehouse explain --time` fixes it.
package gatehouse.custom

deny contains {"reason": "outside_refund_hours", "status": 403, "body": {"error": "outside_refund_hours", "hours": shop_hours_text}} if {
	input.operation.id == "createRefund"
	not within_refund_hours
}

within_refund_hours if {
	h := data.shop.refund_hours
	time.weekday([input.time, h.tz]) in h.days
	hour := time.clock([input.time, h.tz])[0]
	hour >= h.start
	hour < h.end
}

shop_hours_text := sprintf("%s-%s %02d:00-%02d:00 %s", [h.days[0], h.days[count(h.days) - 1], h.start, h.end, h.tz]) if {
	h := data.shop.refund_hours
}
