// Package health answers whether a balancer should send this replica
// requests (/readyz): the dependencies the serving generation needs and
// their state under the readiness section (gateway/config/readiness.go),
// the report itself, and the anonymous policy probe a generation passes
// before it serves. The gateway gathers the facts of its serving
// generation and hands them over; this package needs neither the gateway's
// Config nor its generation.
package health
