package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn/authntest"
)

// The mTLS × application-security truth table, through real TLS, for the
// WSO2 extensions and their x-gatehouse-mtls equivalents (README, "Mutual
// TLS"). Rows: certificate valid / absent / invalid; columns: token valid /
// absent / invalid.

var matrixConfig = withFixtures(`
apis:
  - openapi: matrix.yaml
    upstream: ${UPSTREAM}
    client_ca_files: [partner-ca.pem]
schemes:
  jwt: {type: bearer, issuers: [test]}
policy: {decision_timeout: 5s}
`, "listen", "issuer")

const matrixDoc = `
openapi: 3.0.1
info: {title: Matrix, version: "1"}
x-wso2-basePath: /matrix
security: [{jwt: []}]
paths:
  /wso2/mandatory-mandatory:
    get:
      x-wso2-mutual-ssl: mandatory
      x-wso2-application-security: {security-types: [oauth2], optional: false}
      responses: {"200": {description: ok}}
  /wso2/mandatory-optional:
    get:
      x-wso2-mutual-ssl: mandatory
      x-wso2-application-security: {security-types: [oauth2], optional: true}
      responses: {"200": {description: ok}}
  /wso2/optional-mandatory:
    get:
      x-wso2-mutual-ssl: optional
      x-wso2-application-security: {security-types: [oauth2], optional: false}
      responses: {"200": {description: ok}}
  /gatehouse/mandatory:
    get:
      x-gatehouse-mtls: mandatory
      responses: {"200": {description: ok}}
  /gatehouse/mandatory-token-optional:
    get:
      x-gatehouse-mtls: mandatory
      security: [{jwt: []}, {}]
      responses: {"200": {description: ok}}
  /gatehouse/optional:
    get:
      x-gatehouse-mtls: optional
      responses: {"200": {description: ok}}
  /gatehouse/certificate-only:
    get:
      x-gatehouse-mtls: mandatory
      security: []
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    jwt: {type: http, scheme: bearer}
`

func TestMTLSTruthTable(t *testing.T) {
	t.Parallel()
	p := newMTLSPKI(t)
	e := newEnv(t, envOptions{config: matrixConfig, files: map[string]string{
		"partner-ca.pem": string(p.partnerRoot.CertOnlyPEM()),
		"matrix.yaml":    matrixDoc,
	}})
	certs := map[string]*authntest.Cert{"valid": p.partner, "absent": nil, "invalid": p.expired}
	tokens := map[string]http.Header{
		"valid":   bearer(e.token(nil)),
		"absent":  nil,
		"invalid": bearer(e.token(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })),
	}
	clients := map[string]*http.Client{}
	for k, c := range certs {
		clients[k] = e.certClient(c, "")
	}
	order := []string{"valid", "absent", "invalid"}
	// want[path] lists statuses row by row: certificate valid, absent,
	// invalid; in each row token valid, absent, invalid.
	mandatoryBoth := "200 401 401 | 401 401 401 | 401 401 401"
	mandatoryCert := "200 200 401 | 401 401 401 | 401 401 401"
	either := "200 200 401 | 200 401 401 | 401 401 401"
	want := map[string]string{
		"/matrix/wso2/mandatory-mandatory":           mandatoryBoth,
		"/matrix/wso2/mandatory-optional":            mandatoryCert,
		"/matrix/wso2/optional-mandatory":            either,
		"/matrix/gatehouse/mandatory":                mandatoryBoth,
		"/matrix/gatehouse/mandatory-token-optional": mandatoryCert,
		"/matrix/gatehouse/optional":                 either,
		"/matrix/gatehouse/certificate-only":         "200 200 200 | 401 401 401 | 401 401 401",
	}
	for path, table := range want {
		rows := strings.Split(table, "|")
		for i, cert := range order {
			cols := strings.Fields(rows[i])
			for j, tok := range order {
				name := fmt.Sprintf("%s/cert-%s/token-%s", strings.TrimPrefix(path, "/matrix/"), cert, tok)
				t.Run(name, func(t *testing.T) {
					before := e.upstream.count()
					r := e.doWith(clients[cert], "GET", path, tokens[tok])
					if got := fmt.Sprint(r.status); got != cols[j] {
						t.Fatalf("status %s, want %s: %s", got, cols[j], r.body)
					}
					if called := e.upstream.count() > before; called != (r.status == 200) {
						t.Fatalf("upstream called: %v", called)
					}
				})
			}
		}
	}
}
