package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway"
)

// Three trust domains that all know a client called pets-client, each
// validating subscriptions: two issuers on loopback (corp, partner: the
// application is the token's client_id) and an RFC 7662 key manager
// (partner-km). Only corp's pets-client is subscribed to the pets API.
var subsConfig = withFixtures(`
apis:
  - openapi: pets.yaml
    upstream: ${UPSTREAM}
schemes:
  oauth: {type: bearer, issuers: [corp, partner], key_managers: [partner-km]}
issuers:
  - name: corp
    issuer: "${CORP}"
    jwks_url: "${CORP}/jwks.json"
    audiences: [pets]
    claims: {application: client_id}
    subscription_validation: true
  - name: partner
    issuer: "${PARTNER}"
    jwks_url: "${PARTNER}/jwks.json"
    audiences: [pets]
    claims: {application: client_id}
    subscription_validation: true
key_managers:
  - name: partner-km
    introspection_url: "${KM}"
    client_id: gw
    client_secret: file:km.secret
    claims: {application: client_id}
    subscription_validation: true
policy:
  bundles: [bundle/]
  decision_timeout: 5s
log: {level: trace}
`, "listen")

const petsDoc = `
openapi: 3.1.0
info: {title: pets, version: "1"}
x-gatehouse-base-path: /pets
security:
  - oauth: [read]
paths:
  /list:
    get: {operationId: listPets, responses: {"200": {description: ok}}}
components:
  securitySchemes:
    oauth: {type: http, scheme: bearer}
`

// corpOnly subscribes corp's pets-client, and no other source's.
const corpOnly = `{"gatehouse": {"subscriptions": {"corp": {"pets-client": [{"api": "pets", "plan": "gold"}]}}}}`

// A name collision across trust domains never grants access: with
// subscriptions keyed by source (docs/migrating-bundle-data.md), the
// pets-client of partner or partner-km does not inherit the subscription of
// corp's pets-client; subscribing it is an explicit entry under its own
// source; and data of the old flat shape is refused on reload, the previous
// data serving on.
func TestSubscriptionsKeyedBySource(t *testing.T) {
	corp := authntest.NewIssuer(t, authntest.WithAlg("RS256"))
	partner := authntest.NewIssuer(t, authntest.WithAlg("ES256"))
	km := authntest.NewIntrospector(t, authntest.WithClientSecret("gw", "km-secret-7d1e"))
	cfg := strings.NewReplacer("${CORP}", corp.URL(), "${PARTNER}", partner.URL(), "${KM}", km.URL()).Replace(subsConfig)
	e := newEnv(t, envOptions{config: cfg, files: map[string]string{
		"pets.yaml":        petsDoc,
		"km.secret":        "km-secret-7d1e",
		"bundle/.manifest": `{"revision": "subs-1", "roots": ["gatehouse"]}`,
		"bundle/data.json": corpOnly,
	}})
	mint := func(is *authntest.Issuer, client string) string {
		c := authntest.Claims(is.Issuer(), "pets", time.Now(), time.Hour)
		c["scope"], c["client_id"] = "read", client
		tok, err := is.Signer().Mint(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	opaque := func(client string) string {
		return km.Issue(map[string]any{"scope": "read", "client_id": client, "exp": authntest.Exp(time.Hour)})
	}
	tokens := map[string]string{
		"corp":            mint(corp, "pets-client"),
		"partner":         mint(partner, "pets-client"),
		"partner-km":      opaque("pets-client"),
		"corp-other":      mint(corp, "other-client"),
		"partner-is-corp": mint(partner, "corp"), // an application named like a source
		"partner-no-app":  mint(partner, ""),
		"corp-again":      mint(corp, "pets-client"),
	}
	type step struct {
		name, token string
		status      int
	}
	check := func(t *testing.T, steps []step) {
		t.Helper()
		for _, tc := range steps {
			t.Run(tc.name, func(t *testing.T) {
				before := e.upstream.count()
				r := e.do("GET", "/pets/list", bearer(tokens[tc.token]))
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
				}
				if tc.status == http.StatusForbidden {
					// The body does not name reasons; the audit line does.
					var p struct {
						RequestID string `json:"request_id"`
					}
					_ = json.Unmarshal(r.body, &p)
					if !auditHas(e, p.RequestID, `"reasons":["subscription_required"]`) {
						t.Fatalf("no audit line of request %q denied with only subscription_required", p.RequestID)
					}
				}
				if called := e.upstream.count() > before; called != (tc.status == 200) {
					t.Fatalf("upstream called: %v", called)
				}
			})
		}
	}
	t.Run("corp-only", func(t *testing.T) {
		check(t, []step{
			{"ok/corp-pets-client-subscribed", "corp", 200},
			{"fail/partner-pets-client-same-id-other-issuer", "partner", 403},
			{"fail/partner-km-pets-client-same-id-key-manager", "partner-km", 403},
			{"fail/corp-other-client", "corp-other", 403},
			{"fail/partner-application-named-like-a-source", "partner-is-corp", 403},
			{"fail/partner-no-application", "partner-no-app", 403},
		})
	})
	// Old flat data would subscribe pets-client wherever it was issued:
	// the reload is refused, with the migration named, and the previous
	// data keeps serving.
	e.write("bundle/data.json", `{"gatehouse": {"subscriptions": {"pets-client": [{"api": "pets"}]}}}`)
	err := e.srv.Reload(context.Background())
	if !errors.Is(err, bundles.ErrData) || !strings.Contains(err.Error(), "docs/migrating-bundle-data.md") {
		t.Fatalf("reload with flat data: %v", err)
	}
	t.Run("flat-data-refused", func(t *testing.T) {
		check(t, []step{
			{"ok/corp-still-subscribed", "corp", 200},
			{"fail/partner-still-not-subscribed", "partner", 403},
		})
	})
	// Subscribing partner's pets-client is an entry of its own.
	e.write("bundle/data.json", `{"gatehouse": {"subscriptions": {
		"corp": {"pets-client": [{"api": "pets"}]},
		"partner": {"pets-client": [{"api": "pets"}]}}}}`)
	if err := e.srv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Run("both-issuers", func(t *testing.T) {
		check(t, []step{
			{"ok/corp", "corp-again", 200},
			{"ok/partner-subscribed-explicitly", "partner", 200},
			{"fail/partner-km-still-not", "partner-km", 403},
		})
	})
	if logs := e.logs.String(); strings.Contains(logs, "km-secret-7d1e") {
		t.Error("the key manager's secret reached the logs")
	}
	for name, tok := range tokens {
		if strings.Contains(e.logs.String(), tok) {
			t.Errorf("token %s reached the logs", name)
		}
	}
}

// A client certificate's identity has the API's name as its source: an API
// whose certificates carry applications may not be named like an issuer.
func TestSubscriptionSourcesUnique(t *testing.T) {
	t.Parallel()
	p := newMTLSPKI(t)
	dir := t.TempDir()
	files := p.files()
	files["partners.yaml"] = partnersDoc
	signer := authntest.Must(authntest.NewSigner("RS256"))
	files["issuer.jwks"] = string(authntest.Must(authntest.JWKS(signer)))
	files["gatehouse.yaml"] = strings.Replace(withFixtures(`
apis:
  - openapi: partners.yaml
    name: test
    upstream: http://127.0.0.1:1
    client_ca_files: [partner-ca.pem]
    mtls: {application_from: cn}
schemes:
  clientCert: {type: mtls}
  jwt: {type: bearer, issuers: [test]}
`, "listen", "issuer"), "${UPSTREAM}", "http://127.0.0.1:1", -1)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, err := gateway.New(context.Background(), filepath.Join(dir, "gatehouse.yaml"), gateway.Options{Logger: hclog.NewNullLogger()})
	if err == nil || !strings.Contains(err.Error(), "identity sources must be unique") {
		t.Fatalf("err = %v", err)
	}
}

// auditHas reports whether the audit line of request id holds want.
func auditHas(e *env, id, want string) bool {
	e.srv.FlushAudit()
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if id != "" && strings.Contains(line, `"request_id":"`+id+`"`) && strings.Contains(line, want) {
			return true
		}
	}
	return false
}
