package authn_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

// Every secret a fixture uses — passwords, tokens, HMAC secret, private
// JWK — is absent from the logs and from every error string, and Redacted
// hides itself in both hclog formats.
func TestNoSecretsInLogsOrErrors(t *testing.T) {
	f := newJWTFixture(t)
	var logs strings.Builder
	for _, json := range []bool{true, false} {
		log := hclog.New(&hclog.LoggerOptions{Output: &logs, JSONFormat: json, Level: hclog.Trace})
		priv := authntest.Must(jwkPrivateMap(f.esA, "leaky"))
		keys, err := authn.ParseJWKS(authntest.Must(authntest.JWKSFromMaps(priv, authntest.Must(f.hsH.JWKMap()), authntest.Must(f.esA.JWKMap()))), log)
		if err != nil {
			t.Fatal(err)
		}
		a := *f.a
		a.Keys = keys
		j, err := authn.NewJWT("petsOAuth", []*authn.Issuer{&a, f.h}, authn.WithLogger(log), authn.WithClock(f.clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		b, err := authn.NewBasic("basicAuth", newBasicUsers(t), authn.WithLogger(log))
		if err != nil {
			t.Fatal(err)
		}
		good := mint(t, f.esA, f.claims(issA))
		secrets := []string{
			string(f.hsH.Secret()), priv["d"].(string), authntest.Must(f.hsH.JWKMap())["k"].(string),
			"correct horse", good, authntest.TamperSignature(good), mint(t, f.hsH, f.claims(issH)),
		}
		var errs []string
		for _, tok := range secrets[4:] {
			if _, err := authenticate(t, j, tok); err != nil {
				errs = append(errs, err.Error())
			}
		}
		for _, h := range []string{basicHeader("alice", "correct horse"), basicHeader("alice", "wrong horse")} {
			r, _ := http.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", h)
			if _, err := b.Authenticate(r); err != nil {
				errs = append(errs, err.Error())
			}
		}
		log.Info("a secret passed through a log call", "secret", authn.Redacted("correct horse"), "value", fmt.Sprintf("%v", authn.Redacted("correct horse")))
		out := logs.String() + strings.Join(errs, "\n")
		for i, s := range secrets {
			if strings.Contains(out, s) {
				t.Fatalf("secret #%d appears in logs or errors", i)
			}
		}
		if !strings.Contains(logs.String(), "[redacted]") {
			t.Fatal("Redacted did not log its placeholder")
		}
	}
}
