package keymanager_test

import (
	"encoding/json"
	"testing"

	"github.com/gatehouse/gatehouse/authn/keymanager"
)

// FuzzParseSecretHash: stored hashes come from bundle data. No panic, and a
// hash that parses never accepts an empty secret by accident of parsing
// (the seeds hash non-empty secrets).
func FuzzParseSecretHash(f *testing.F) {
	for _, s := range []string{
		"$2y$04$abcdefghijklmnopqrstuu5Dh5P6TC0L9f0bLFkvvy4N4fEE0S6W",
		"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$7pYgXg9b3o8mH0mZ2Bw0r3nqQn8m0l9e0vQ3cM0sQ8g",
		"$argon2id$v=19$m=64,t=1,p=1,p=2$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg",
		"$argon2id$v=16$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg",
		"$argon2id$v=19$m=4294967295,t=4294967295,p=255$AA$AA",
		"$argon2i$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg",
		"$2y$99$x", "$", "", "plain",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := keymanager.ParseSecretHash(s)
		_ = err
		raw := map[string]any{"a": map[string]any{"oauth2": map[string]any{"client_secrets": []any{s}}}}
		b, _ := json.Marshal(raw)
		var v any
		_ = json.Unmarshal(b, &v)
		apps, err := keymanager.ParseApplications(v)
		if err == nil && apps.Client("a") == nil {
			t.Fatal("parsed without the client")
		}
	})
}
