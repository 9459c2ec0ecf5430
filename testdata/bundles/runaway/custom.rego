# A runaway rule for the decision-deadline tests (bundles/engine_test.go,
# gateway/e2e_policy_test.go): on a request with an x-runaway header it
# iterates 10^10 pairs, far past any deadline; other requests skip it.
package gatehouse.custom

deny contains {"reason": "never"} if {
	input.request.headers["x-runaway"]
	count([1 |
		some i in numbers.range(1, 100000)
		some j in numbers.range(1, 100000)
		i == j + 1000000
	]) > 0
}
