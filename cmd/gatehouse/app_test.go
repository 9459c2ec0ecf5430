package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authn/keymanager"
)

// app create / secret rotate edit the data file; the printed secret
// authenticates against what was written, the old one stops (or, with
// --keep-old, keeps) working, and other data survives.
func TestAppCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data.json")
	if err := os.WriteFile(data, []byte(`{"gatehouse": {"subscriptions": {"gatehouse": {"shop": [{"api": "petstore"}]}}}, "acme": {"n": 12345678901234567890}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := dispatch(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	secretOf := func(out string) string {
		for _, l := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(l, "client_secret: "); ok {
				return strings.TrimSpace(v)
			}
		}
		t.Fatalf("no secret in %q", out)
		return ""
	}
	store, err := keymanager.OpenFile(filepath.Join(dir, "tokens.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	authenticates := func(clientID, secret string) bool {
		raw, _ := os.ReadFile(data)
		var doc map[string]any
		_ = json.Unmarshal(raw, &doc)
		apps, err := keymanager.ParseApplications(doc["gatehouse"].(map[string]any)["applications"].(map[string]any)[keymanager.DefaultName])
		if err != nil {
			t.Fatal(err)
		}
		km, err := keymanager.New(keymanager.Config{Issuer: "https://gw/", Store: store})
		if err != nil {
			t.Fatal(err)
		}
		km.SetApplications(apps)
		_, err = km.Authenticate(context.Background(), clientID, secret)
		return err == nil
	}
	code, out, errs := run("app", "create", "--data", data, "--id", "shop", "--scopes", "read, write", "--cost", "4")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errs)
	}
	first := secretOf(out)
	raw, _ := os.ReadFile(data)
	if strings.Contains(string(raw), first) || !strings.Contains(string(raw), "12345678901234567890") || !strings.Contains(string(raw), `"subscriptions"`) {
		t.Fatalf("data file after create:\n%s", raw)
	}
	if !authenticates("shop", first) {
		t.Fatal("the printed secret does not authenticate")
	}
	// Data in the flat shape of earlier releases is not edited.
	flat := filepath.Join(dir, "flat.json")
	if err := os.WriteFile(flat, []byte(`{"gatehouse": {"applications": {"shop": {"name": "Shop"}}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"fail/create-twice", []string{"app", "create", "--data", data, "--id", "shop", "--cost", "4"}, 1, "already a client"},
		{"fail/duplicate-client-id", []string{"app", "create", "--data", data, "--id", "web", "--client-id", "shop", "--cost", "4"}, 1, "is also the client_id"},
		{"fail/bad-scope", []string{"app", "create", "--data", data, "--id", "web", "--scopes", `a"b`, "--cost", "4"}, 1, "scope"},
		{"fail/rotate-unknown", []string{"app", "secret", "rotate", "--data", data, "--id", "ghost"}, 1, "not a client"},
		{"fail/no-data-flag", []string{"app", "create", "--id", "x"}, 2, "--data and --id are required"},
		{"fail/usage", []string{"app", "delete"}, 2, "usage"},
		{"fail/flat-data", []string{"app", "create", "--data", flat, "--id", "web", "--cost", "4"}, 1, "docs/migrating-bundle-data.md"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := run(tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Fatalf("code %d, stderr %q", code, errs)
			}
		})
	}
	t.Run("ok/other-source", func(t *testing.T) {
		// Another internal key manager name: its own applications, so the
		// same id is a different client.
		if code, _, errs := run("app", "create", "--data", data, "--source", "edge-km", "--id", "shop", "--cost", "4"); code != 0 {
			t.Fatal(errs)
		}
		raw, _ := os.ReadFile(data)
		var doc map[string]any
		_ = json.Unmarshal(raw, &doc)
		apps := doc["gatehouse"].(map[string]any)["applications"].(map[string]any)
		if _, ok := apps["edge-km"].(map[string]any)["shop"]; !ok || apps["gatehouse"].(map[string]any)["shop"] == nil {
			t.Fatalf("applications: %v", apps)
		}
	})
	t.Run("ok/rotate-keep-old", func(t *testing.T) {
		code, out, errs := run("app", "secret", "rotate", "--data", data, "--id", "shop", "--keep-old", "--cost", "4")
		if code != 0 {
			t.Fatal(errs)
		}
		second := secretOf(out)
		if !authenticates("shop", first) || !authenticates("shop", second) {
			t.Fatal("both secrets must work during the overlap")
		}
		code, out, _ = run("app", "secret", "rotate", "--data", data, "--id", "shop", "--cost", "4")
		third := secretOf(out)
		if code != 0 || authenticates("shop", first) || authenticates("shop", second) || !authenticates("shop", third) {
			t.Fatal("a rotation without --keep-old must drop the old secrets")
		}
	})
}
