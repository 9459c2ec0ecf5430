package schemas_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/schemas"
)

// TestCapabilitiesFileIsTheGatewaysOwn: schemas/capabilities.json, which
// users pass to the stock opa binary (opa check/test --capabilities), is
// byte for byte what the binary enforces. After an OPA upgrade or a change
// to bundles.Capabilities, regenerate it with
//
//	go run ./cmd/gatehouse policy capabilities > schemas/capabilities.json
func TestCapabilitiesFileIsTheGatewaysOwn(t *testing.T) {
	committed, err := schemas.FS.ReadFile("capabilities.json")
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := bundles.CapabilitiesJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, embedded) {
		t.Fatal("schemas/capabilities.json differs from the gateway's capabilities; regenerate it: " +
			"go run ./cmd/gatehouse policy capabilities > schemas/capabilities.json")
	}
	var doc struct {
		Builtins []struct{ Name string } `json:"builtins"`
	}
	if err := json.Unmarshal(committed, &doc); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, b := range doc.Builtins {
		names[b.Name] = true
	}
	for _, denied := range []string{"http.send", "net.lookup_ip_addr", "opa.runtime"} {
		if names[denied] {
			t.Errorf("%s is in the capabilities; policies must not reach the network or the environment", denied)
		}
	}
	for _, kept := range []string{"net.cidr_contains", "time.clock", "io.jwt.decode"} {
		if !names[kept] {
			t.Errorf("%s is missing from the capabilities", kept)
		}
	}
}
