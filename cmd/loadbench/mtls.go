package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// The mTLS scenario: an API that requires a client certificate (per-API CA,
// x-gatehouse-mtls: mandatory), behind a TLS-terminating balancer that
// forwards the client certificate as URL-encoded PEM (X-SSL-Client-Cert,
// trusted from 127.0.0.1). wrk cannot present client certificates, and over
// kept-alive connections the handshake is paid once per connection anyway:
// the per-request cost is the same verification-cache lookup either way
// (BenchmarkMTLS in gateway/ measures the direct-TLS path), plus here the
// header's parse cache.

const mtlsBasePath = "/mtls/v1"

// setupMTLS starts the mTLS gateway and adds its target.
func (b *bench) setupMTLS(upstream string) error {
	ca, err := authntest.NewCA(authntest.WithCommonName("Loadbench Partner CA"))
	if err != nil {
		return err
	}
	inter, err := ca.Intermediate(authntest.WithCommonName("Loadbench Partner Issuing CA"))
	if err != nil {
		return err
	}
	client, err := inter.Client("partner-bench", authntest.WithURIs("spiffe://loadbench/partner"))
	if err != nil {
		return err
	}
	if _, err := ca.Cert.WriteCertFile(b.work, "partner-ca"); err != nil {
		return err
	}
	doc, _ := json.Marshal(map[string]any{
		"openapi":               "3.0.3",
		"info":                  map[string]any{"title": "BenchMTLS", "version": "1.0.0"},
		"x-gatehouse-base-path": mtlsBasePath,
		"x-gatehouse-mtls":      "mandatory",
		"security":              []any{},
		"paths": map[string]any{"/items/{id}": map[string]any{
			"parameters": []any{map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "string"}}},
			"get":        map[string]any{"operationId": "getItem", "responses": map[string]any{"200": map[string]any{"description": "ok"}}},
		}},
	})
	if err := os.WriteFile(filepath.Join(b.work, "bench-mtls-api.json"), doc, 0o644); err != nil {
		return err
	}
	p, addr, _, err := b.startGateway("gatehouse-mtls", fmt.Sprintf(`apis:
  - openapi: bench-mtls-api.json
    upstream: %s
    client_ca_files: [partner-ca.pem]
    mtls: {application_from: cn}
mtls:
  forwarded_certificate: {format: pem, header: X-SSL-Client-Cert, trusted_proxies: [127.0.0.1]}
  upstream_header: X-Forwarded-Client-Cert
log:
  level: info
  format: json
`, upstream), nil)
	if err != nil {
		return err
	}
	b.targets = append(b.targets, &target{
		name: "mtls-forwarded", label: "gatehouse mTLS API, cert via LB header",
		url: "https://" + addr + mtlsBasePath + "/items/42", proc: p,
		header: "X-SSL-Client-Cert: " + url.QueryEscape(string(client.CertPEM())),
	})
	return nil
}
