package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"os"
)

// newInstanceID is this process's instance id: instance_id when configured,
// else the host name and a random suffix, so replicas on one host (or pods
// that reuse a name after a restart) stay apart in decision logs.
func newInstanceID(configured string) string {
	if configured != "" {
		return configured
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "gatehouse"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return host + "-" + hex.EncodeToString(b)
}

// InstanceID is this process's instance id (instance_id, or the host name
// and a random suffix): labels.id of its decision records.
func (s *Server) InstanceID() string { return s.instanceID }
