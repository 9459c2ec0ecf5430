package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A swapped-out generation stays open while a request that loaded it is in
// flight, and is closed as soon as that last request ends — not a fixed
// time later (the bound is a minute; the test waits 10 s at most).
func TestOldGenerationReleasedWithItsLastRequest(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	unblock := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/public" {
			arrived <- struct{}{}
			<-unblock
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() {
		select {
		case <-unblock:
		default:
			close(unblock)
		}
	})
	e := newEnv(t, envOptions{
		config: strings.Replace(coreConfig, "${UPSTREAM}/backend", slow.URL, 1),
		files: map[string]string{
			"shapes.yaml":      shapesDoc,
			"bare.yaml":        bareDoc,
			"bundle/.manifest": `{"revision": "gen-1", "roots": ["gatehouse/revocations"]}`,
		},
	})
	old := e.srv.Generation()

	done := make(chan int, 1)
	go func() {
		resp, err := e.client.Get(e.base + "/shapes/public")
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-arrived // the request holds the old generation, at the upstream

	e.write("bundle/.manifest", `{"revision": "gen-2", "roots": ["gatehouse/revocations"]}`)
	if err := e.srv.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if e.srv.Generation() == old {
		t.Fatal("the reload did not swap the generation")
	}
	select {
	case <-old.Closed():
		t.Fatal("the old generation was closed while a request still used it")
	default:
	}
	// New requests take the new generation and do not keep the old open.
	if s := e.do("GET", "/bare/anything", nil).status; s == 0 {
		t.Fatal("no answer from the new generation")
	}
	select {
	case <-old.Closed():
		t.Fatal("the old generation was closed while a request still used it")
	default:
	}

	close(unblock)
	if s := <-done; s != http.StatusOK {
		t.Fatalf("the in-flight request got %d; want 200", s)
	}
	select {
	case <-old.Closed():
	case <-time.After(10 * time.Second):
		t.Fatal("the old generation was not closed after its last request ended")
	}
	select {
	case <-e.srv.Generation().Closed():
		t.Fatal("the serving generation was closed")
	default:
	}
}
