package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse/authn/keymanager"
)

// keyManagerTargets adds the opaque-token scenarios: a gateway whose
// internal key manager issues the token and validates it in process
// (opaque-internal), and a second gateway that validates the same token by
// RFC 7662 introspection against the first one over loopback HTTP, from its
// answer cache after the first request (opaque-introspected: the cached
// introspection path, one call per token per cache TTL).
func (b *bench) keyManagerTargets(upstream string) ([]*target, error) {
	appSecret, err := keymanager.NewSecret()
	if err != nil {
		return nil, err
	}
	rsSecret, err := keymanager.NewSecret()
	if err != nil {
		return nil, err
	}
	appHash, err := keymanager.HashSecret(appSecret, 4)
	if err != nil {
		return nil, err
	}
	rsHash, err := keymanager.HashSecret(rsSecret, 4)
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(map[string]any{"gatehouse": map[string]any{
		"applications": map[string]any{keymanager.DefaultName: map[string]any{
			"bench-app": map[string]any{"oauth2": map[string]any{"client_secrets": []string{appHash}, "scopes": []string{"read:items", "write:items"}}},
			"bench-rs":  map[string]any{"oauth2": map[string]any{"client_secrets": []string{rsHash}, "introspect": true}},
		}},
		"subscriptions": map[string]any{keymanager.DefaultName: map[string]any{"bench-app": []any{map[string]any{"api": "bench"}}}},
	}})
	if err := os.MkdirAll(filepath.Join(b.work, "km-bundle"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(b.work, "km-bundle", "data.json"), data, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(b.work, "rs.secret"), []byte(rsSecret), 0o600); err != nil {
		return nil, err
	}
	km, kmAddr, kmAdmin, err := b.kmGateway("gatehouse-km", upstream, `  benchJWT: {type: bearer, issuers: [bench], key_managers: [gatehouse]}
internal_key_manager:
  issuer: https://gateway.loadbench.local/
  store: {path: km-tokens.db}
policy: {bundles: [km-bundle/]}
`)
	if err != nil {
		return nil, err
	}
	intro, introAddr, _, err := b.kmGateway("gatehouse-introspect", upstream, fmt.Sprintf(`  benchJWT: {type: bearer, issuers: [bench], key_managers: [km]}
key_managers:
  - name: km
    introspection_url: http://%s%s
    client_id: bench-rs
    client_secret: file:rs.secret
`, kmAdmin, keymanager.IntrospectPath))
	if err != nil {
		return nil, err
	}
	tok, err := clientCredentials("http://"+kmAdmin+keymanager.TokenPath, "bench-app", appSecret)
	if err != nil {
		return nil, err
	}
	return []*target{
		{name: "opaque-internal", label: "gatehouse opaque token, internal KM", url: "https://" + kmAddr + jwtPath, proc: km, bearer: tok},
		{name: "opaque-introspected", label: "gatehouse opaque token, cached RFC 7662", url: "https://" + introAddr + jwtPath, proc: intro, bearer: tok},
	}, nil
}

// kmGateway starts a gateway on the bench API with the given schemes
// section (and what follows it) and waits until it is ready.
func (b *bench) kmGateway(name, upstream, schemes string) (*proc, string, string, error) {
	return b.startGateway(name, fmt.Sprintf(`apis:
  - openapi: bench-api.json
    upstream: %s
issuers:
  - name: bench
    issuer: %s
    jwks_file: issuer-jwks.json
    audiences: [%s]
log:
  level: info
  format: json
schemes:
%s`, upstream, issuerID, audience, schemes), nil)
}

// clientCredentials gets a token from a token endpoint.
func clientCredentials(endpoint, id, secret string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		return "", fmt.Errorf("token endpoint %s: status %d", endpoint, resp.StatusCode)
	}
	return body.AccessToken, nil
}
