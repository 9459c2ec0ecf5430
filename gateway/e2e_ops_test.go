package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// A reload builds a new generation on the side; a bad config never replaces
// a good one, and the failure shows on /readyz and in metrics.
func TestReloadKeepsServingOnFailure(t *testing.T) {
	t.Parallel()
	e := coreEnv(t)
	tok := e.token(nil)
	if r := e.do("GET", "/shapes/single", bearer(tok)); r.status != 200 {
		t.Fatalf("before reload: %d", r.status)
	}
	first := e.srv.Generation().ID

	// A broken config: the old generation keeps deciding.
	e.write("gatehouse.yaml", strings.Replace(coreConfig, "issuers: [test]", "issuers: [missing]", 1))
	if err := e.srv.Reload(context.Background()); err == nil {
		t.Fatal("reload of a broken config succeeded")
	}
	if got := e.srv.Generation().ID; got != first {
		t.Fatalf("generation changed to %d after a failed reload", got)
	}
	if r := e.do("GET", "/shapes/single", bearer(tok)); r.status != 200 {
		t.Fatalf("after failed reload: %d", r.status)
	}
	body := get(t, e.admin+"/readyz")
	if !strings.Contains(body, `"status":"degraded"`) || !strings.Contains(body, `unknown issuer`) {
		t.Errorf("readyz does not show the failed reload: %s", body)
	}
	if m := get(t, e.admin+"/metrics"); !strings.Contains(m, `gatehouse_reloads_total{result="failure"} 1`) || !strings.Contains(m, "gatehouse_last_reload_success 0") {
		t.Errorf("metrics do not count the failed reload")
	}

	// A good change takes effect: /shapes/single now needs scope "write"
	// because the API definition changed.
	e.write("shapes.yaml", strings.Replace(shapesDoc, "security: [{jwt: [read]}]\n      responses: {\"200\": {description: ok}}\n    post", "security: [{jwt: [write]}]\n      responses: {\"200\": {description: ok}}\n    post", 1))
	e.write("gatehouse.yaml", coreConfig)
	if err := e.srv.Reload(context.Background()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if e.srv.Generation().ID == first {
		t.Fatal("generation did not change")
	}
	if r := e.do("GET", "/shapes/single", bearer(tok)); r.status != 403 {
		t.Fatalf("after reload: %d, want 403 (scope now write)", r.status)
	}
	if body := get(t, e.admin+"/readyz"); !strings.Contains(body, `"status":"ready"`) {
		t.Errorf("readyz after a good reload: %s", body)
	}
}

// SIGTERM semantics: Shutdown stops accepting and lets in-flight requests
// finish.
func TestShutdownDrainsInFlight(t *testing.T) {
	t.Parallel()
	e := coreEnv(t)
	release := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	e.upstream.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(started) })
		<-release
		_, _ = io.WriteString(w, "done")
	})
	result := make(chan response, 1)
	go func() { result <- e.do("GET", "/shapes/public", nil) }()
	<-started

	shutdownDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdownDone <- e.srv.Shutdown(ctx)
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-shutdownDone:
		t.Fatalf("shutdown returned (%v) while a request was in flight", err)
	default:
	}
	close(release)
	r := <-result
	if r.status != 200 || string(r.body) != "done" {
		t.Fatalf("in-flight request: %d %q", r.status, r.body)
	}
	if err := <-shutdownDone; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := e.client.Get(e.base + "/shapes/public"); err == nil {
		t.Fatal("new request accepted after shutdown")
	}
}

func TestOversizedHeadersGet431(t *testing.T) {
	t.Parallel()
	e := coreEnv(t)
	big := strings.Repeat("a", 70<<10)
	r := e.doWith(e.client1, "GET", "/shapes/public", hdr("X-Big", big))
	if r.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", r.status)
	}
	if e.upstream.count() != 0 {
		t.Fatal("upstream called")
	}
}

func TestTLSVersionFloor(t *testing.T) {
	t.Parallel()
	e := coreEnv(t)
	c := e.client1.Transport.(*http.Transport).Clone()
	c.TLSClientConfig.MaxVersion = 0x0302 // TLS 1.1
	_, err := (&http.Client{Transport: c, Timeout: 5 * time.Second}).Get(e.base + "/shapes/public")
	if err == nil {
		t.Fatal("TLS 1.1 handshake succeeded")
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
