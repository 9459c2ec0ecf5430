// Command upstream is the quickstart's demo backend: it answers every request
// with a JSON echo of what reached it, and verifies the gateway's signed
// identity assertion (X-JWT-Assertion) against the gateway's published JWKS,
// so you can see exactly what an upstream behind Gatehouse receives.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address")
	jwksURL := flag.String("jwks", "http://127.0.0.1:9901/.well-known/jwks.json", "gateway JWKS for verifying X-JWT-Assertion")
	header := flag.String("header", "X-JWT-Assertion", "assertion header")
	flag.Parse()

	h := func(w http.ResponseWriter, r *http.Request) {
		out := map[string]any{
			"upstream": "demo",
			"method":   r.Method,
			"path":     r.URL.Path,
			"query":    r.URL.RawQuery,
			"headers": map[string]string{
				"X-Request-Id":      r.Header.Get("X-Request-Id"),
				"X-Forwarded-For":   r.Header.Get("X-Forwarded-For"),
				"X-Forwarded-Proto": r.Header.Get("X-Forwarded-Proto"),
				"Authorization":     present(r.Header.Get("Authorization")),
			},
		}
		if a := r.Header.Get(*header); a != "" {
			out["assertion"] = verify(*jwksURL, a)
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	}
	srv := &http.Server{Addr: *addr, Handler: http.HandlerFunc(h), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("demo upstream listening on %s", *addr)
	log.Fatal(srv.ListenAndServe())
}

func present(v string) string {
	if v == "" {
		return "(not forwarded)"
	}
	return "(forwarded!)"
}

func verify(jwksURL, token string) map[string]any {
	set, err := jwk.Fetch(context.Background(), jwksURL)
	if err != nil {
		return map[string]any{"verified": false, "error": "fetch gateway JWKS: " + err.Error()}
	}
	t, err := jwt.Parse([]byte(token), jwt.WithKeySet(set), jwt.WithValidate(true))
	if err != nil {
		return map[string]any{"verified": false, "error": strings.TrimSpace(err.Error())}
	}
	claims, _ := t.AsMap(context.Background())
	return map[string]any{"verified": true, "claims": claims}
}
