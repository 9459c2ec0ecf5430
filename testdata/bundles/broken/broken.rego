package gatehouse.custom

deny contains r if {
	r := {"reason": "x"
}
