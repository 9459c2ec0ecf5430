package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/openapi"
)

func TestConfigErrorsCarryPointers(t *testing.T) {
	_, err := config.Load("../../testdata/config/invalid/unknown-nested-key.yaml")
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *ConfigError", err)
	}
	if ce.Pointer != "/apis/0/upstrem" {
		t.Fatalf("pointer %q", ce.Pointer)
	}
}

func TestWSO2Extensions(t *testing.T) {
	cfg, err := config.Load("../../testdata/config/valid/wso2-extensions.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api, err := openapi.LoadAPI(cfg.APIs[0], cfg.File(cfg.APIs[0].OpenAPI))
	if err != nil {
		t.Fatal(err)
	}
	if api.BasePath != "/orders/v2" || api.Upstream.String() != "http://127.0.0.1:9100/orders" {
		t.Fatalf("base path %q upstream %q", api.BasePath, api.Upstream)
	}
	if api.Name != "orders" || api.Version != "v2" {
		t.Fatalf("name %q version %q", api.Name, api.Version)
	}
}

func TestSecretReferences(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.txt"), []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GATEHOUSE_TEST_SECRET", "from-env")
	tests := []struct {
		name, ref, want string
		err             bool
	}{
		{"ok/env", "env:GATEHOUSE_TEST_SECRET", "from-env", false},
		{"ok/file", "file:s.txt", "from-file", false},
		{"fail/env-unset", "env:GATEHOUSE_TEST_UNSET", "", true},
		{"fail/file-missing", "file:nope.txt", "", true},
		{"fail/literal", "plain", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := config.Secret(tc.ref).Resolve(dir)
			if tc.err {
				if !errors.Is(err, config.ErrSecret) {
					t.Fatalf("err = %v, want ErrSecret", err)
				}
				return
			}
			if err != nil || v.Reveal() != tc.want {
				t.Fatalf("got %q, %v", v.Reveal(), err)
			}
			if v.String() == tc.want {
				t.Fatalf("String() reveals the secret")
			}
		})
	}
}

// Config.Files lists what a generation reads, resolved against the config.
func TestConfigFiles(t *testing.T) {
	cfg, err := config.Load("../../testdata/config/valid/with-bundle.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := cfg.Files()
	for _, want := range []string{cfg.Path, cfg.File(cfg.APIs[0].OpenAPI), cfg.File(cfg.Policy.Bundles[0])} {
		if !slices.Contains(files, want) {
			t.Errorf("Files() = %v, missing %s", files, want)
		}
	}
}
