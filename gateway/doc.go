// Package gateway wires Gatehouse together: it reads the configuration
// file, builds a generation (API definitions and routes, authenticators,
// key managers, the compiled policy, caches) and swaps it in through the one
// reload path, runs the listeners and the server, and hands each request to
// the decision core (gateway/pipeline: the Core a generation embeds, and
// its Evaluate), then to the reverse proxy or a front door. The subsystems with a concern of their own are packages under
// it; docs/architecture.md follows a request through all of them.
package gateway
