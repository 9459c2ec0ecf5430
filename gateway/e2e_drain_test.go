package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// Drain: /readyz fails at once ("draining", 503) while the public listener
// still serves every request, each with Connection: close so keep-alive
// clients move on before the listener closes.
func TestDrainFailsReadinessFirst(t *testing.T) {
	e := assertionEnv(t, "", nil)
	readyz := func() (int, string) {
		resp, err := http.Get(e.admin + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Status     string `json:"status"`
			InstanceID string `json:"instance_id"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if body.InstanceID == "" {
			t.Error("readyz names no instance_id")
		}
		return resp.StatusCode, body.Status
	}
	if code, st := readyz(); code != 200 || st != "ready" {
		t.Fatalf("before the drain: %d %s", code, st)
	}
	// closes sends one HTTP/1.1 request and reports whether the response
	// ends the connection (net/http removes the Connection: close header
	// and sets Close).
	closes := func() bool {
		t.Helper()
		req, _ := http.NewRequest("GET", e.base+"/shapes/or", nil)
		req.Header = basic("alice", testUsers["alice"])
		resp, err := e.client1.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
		return resp.Close
	}
	if closes() {
		t.Fatal("a response before the drain closes the connection")
	}
	e.srv.Drain()
	if code, st := readyz(); code != 503 || st != "draining" {
		t.Fatalf("draining: %d %s, want 503 draining", code, st)
	}
	if !closes() {
		t.Fatal("a response while draining keeps the connection alive")
	}
}
