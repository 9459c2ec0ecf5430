package gateway

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/apikeys"
	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/gateway/config"
)

const benchStaticKey = "bench-static-key-4f1c2d9e8b7a6053f1e2d3c4b5a69788"

// apiKeyBenchGeneration builds a generation with an API whose operation
// takes an API key in a header, the token service (ES256), and one static
// key in bundle data; cacheTTL is the scheme's cache_ttl.
func apiKeyBenchGeneration(b *testing.B, cacheTTL string) (*Generation, string) {
	b.Helper()
	dir := b.TempDir()
	key := authntest.Must(authntest.GenerateKey(authntest.ECDSAP256))
	data, _ := json.Marshal(map[string]any{"gatehouse": map[string]any{
		"static_api_keys": map[string]any{"erp": map[string]any{
			"sha256": authn.HashAPIKey(benchStaticKey), "application": "erp", "apis": []any{map[string]any{"name": "partners"}},
		}},
	}})
	files := map[string]string{
		"sts-key.pem": string(authntest.Must(authntest.PrivateKeyPEM(key))),
		"partners.yaml": `openapi: 3.0.3
info: {title: Partners, version: "1"}
x-gatehouse-base-path: /partners
x-gatehouse-upstream: http://127.0.0.1:9
security: [{partnerKey: []}]
paths:
  /orders/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get: {operationId: getOrder, responses: {"200": {description: ok}}}
components:
  securitySchemes:
    partnerKey: {type: apiKey, in: header, name: X-API-Key}
`,
		"bundle/data.json": string(data),
		"gatehouse.yaml": `listen: {http_address: "127.0.0.1:0", allow_credentials_over_http: true}
admin: {address: ""}
apis: [{openapi: partners.yaml}]
schemes:
  partnerKey: {type: api_key, cache_ttl: ` + cacheTTL + `}
api_keys:
  issuer: https://gatehouse.bench/apikeys
  signing_key_file: sts-key.pem
policy:
  bundles: [bundle/]
`,
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	cfg, err := config.Load(filepath.Join(dir, "gatehouse.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	svc, err := APIKeyService(cfg)
	if err != nil {
		b.Fatal(err)
	}
	out, err := svc.Issue(apikeys.Request{APIs: []authn.APIRef{{Name: "partners", Version: "1"}}, Subject: "partner-1", Application: "app-1", Validity: "24h"})
	if err != nil {
		b.Fatal(err)
	}
	return benchGeneration(b, cfg), out.Key
}

// BenchmarkEvaluateAPIKey is route + API key authenticator + input + policy
// (with the api_not_allowed restriction) per request: an issued key served
// from the verified-key cache, the same key verified every time (cache_ttl
// 1ns), and a static key.
func BenchmarkEvaluateAPIKey(b *testing.B) {
	cached, key := apiKeyBenchGeneration(b, "5m")
	uncached, key2 := apiKeyBenchGeneration(b, "1ns")
	cases := []struct {
		name string
		g    *Generation
		key  string
	}{
		{"issued-cached", cached, key},
		{"issued-uncached", uncached, key2},
		{"static", cached, benchStaticKey},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			r := benchRequest("GET", "/partners/orders/42", "")
			r.Header.Set("X-API-Key", c.key)
			now := time.Now()
			if ev := c.g.Evaluate(r, "bench-req-1", now); ev.Status != 0 {
				b.Fatalf("not allowed: status %d reason %q failure %v", ev.Status, ev.Reason, ev.Failure)
			}
			b.ReportAllocs()
			for b.Loop() {
				if ev := c.g.Evaluate(r, "bench-req-1", now); ev.Status != 0 {
					b.Fatal(ev.Status, ev.Reason)
				}
			}
		})
	}
}
