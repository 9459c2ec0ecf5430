// Package fleet holds the end-to-end test of Gatehouse run as a fleet:
// three real `gatehouse run` processes behind a test balancer that follows
// their /readyz, sharing a real Redis, a loopback bundle server, a
// decision-log collector and one identity-assertion key set, with an
// upstream that verifies every assertion against one copy of the published
// key set (fleet_test.go).
package fleet
