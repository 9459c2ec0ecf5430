package frontdoor_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/pipeline"
)

// generation builds a generation from the running quickstart's config, as
// `gatehouse explain` does, for tests that call the decision core directly.
func (q *quickstart) generation(t *testing.T) *gateway.Generation {
	t.Helper()
	cfg, err := config.Load(filepath.Join(q.dir, "gatehouse.yaml"))
	must(t, err)
	gen, err := gateway.BuildGeneration(context.Background(), cfg, gateway.BuildOptions{})
	must(t, err)
	t.Cleanup(func() { _ = gen.Close() })
	return gen
}

// request builds a new request of the case as explainCmd builds it from
// --method, --url, -H and --cert.
func (q *quickstart) request(t *testing.T, c qsCase) *http.Request {
	t.Helper()
	facts := pipeline.Facts{Method: c.method, Target: c.path, Host: "localhost", RemoteAddr: "127.0.0.1:40000"}
	if c.header != nil {
		facts.Header = c.header(q)
	}
	if c.cert {
		facts.Certificates = []*x509.Certificate{q.client.Certificate}
	}
	r, err := facts.Request()
	must(t, err)
	return r
}
