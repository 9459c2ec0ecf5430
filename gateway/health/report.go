package health

import (
	"encoding/json"
	"net/http"

	"github.com/gatehouse/gatehouse/authn"
)

// Report is what /readyz tells a balancer about this replica.
type Report struct {
	InstanceID string
	// Serving describes the serving generation; nil before the first.
	Serving *Serving
	// LastReload and RemoteBundles are reported when not nil.
	LastReload    any
	RemoteBundles any
	// Draining: SIGTERM arrived; the replica still serves.
	Draining bool
}

// Serving is the serving generation as /readyz reports it.
type Serving struct {
	Generation     uint64
	APIs           string
	BundleRevision string
	// ClientTrust is reported when not nil.
	ClientTrust map[string]any
	// Issuers and Unavailable are the remote key sources (Issuers).
	Issuers     []authn.JWKSStatus
	Unavailable []string
	// Dependencies decide the status (Of).
	Dependencies []Dependency
}

// Write answers /readyz: 503 while draining, before the first generation,
// or while a required dependency is down; 200 otherwise ("degraded" when a
// degraded_ok one is).
func (r *Report) Write(w http.ResponseWriter) {
	body := map[string]any{"status": "ready", "instance_id": r.InstanceID}
	status := http.StatusOK
	if g := r.Serving; g == nil {
		body["status"] = "not_ready"
		status = http.StatusServiceUnavailable
	} else {
		body["generation"] = g.Generation
		body["apis"] = g.APIs
		body["bundle_revision"] = g.BundleRevision
		if g.ClientTrust != nil {
			body["client_trust"] = g.ClientTrust
		}
		// An issuer without keys does not make the replica unready by
		// itself: the other issuers, and every other scheme, keep
		// serving; its jwks dependency decides (readiness.jwks).
		if len(g.Issuers) > 0 {
			body["issuers"] = g.Issuers
			if len(g.Unavailable) > 0 {
				body["unavailable_issuers"] = g.Unavailable
			}
		}
		body["dependencies"] = g.Dependencies
		body["status"], status = Of(g.Dependencies)
	}
	if r.LastReload != nil {
		body["last_reload"] = r.LastReload
	}
	if r.RemoteBundles != nil {
		body["remote_bundles"] = r.RemoteBundles
	}
	if r.Draining {
		body["status"] = "draining"
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
