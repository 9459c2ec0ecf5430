//go:build race

package gateway

// raceEnabled: the race detector slows evaluation ~10×; long generated
// tests sample their inputs under it.
const raceEnabled = true
