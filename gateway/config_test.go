package gateway_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/openapi"
)

// loadAndBuild is `gatehouse check`.
func loadAndBuild(path string) error {
	_, err := gateway.Check(context.Background(), path, gateway.CheckOptions{})
	return err
}

// Every file in testdata/config/invalid/ states the error it must produce in
// its first line: "# want: <substring>".
func TestInvalidConfigs(t *testing.T) {
	files, _ := filepath.Glob("../testdata/config/invalid/*.yaml")
	if len(files) < 10 {
		t.Fatalf("only %d invalid configs found", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := wantLine(t, f)
			err := loadAndBuild(f)
			if err == nil {
				t.Fatalf("config is accepted; want an error containing %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q\ndoes not contain %q", err, want)
			}
		})
	}
}

func TestValidConfigs(t *testing.T) {
	// internal-key-manager.yaml: run reads the store password when it opens
	// the store, and so does check.
	t.Setenv("GATEHOUSE_TEST_REDIS_PASSWORD", "test-only")
	files, _ := filepath.Glob("../testdata/config/valid/*.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := loadAndBuild(f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConfigErrorsCarryPointers(t *testing.T) {
	_, err := gateway.LoadConfig("../testdata/config/invalid/unknown-nested-key.yaml")
	var ce *gateway.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *ConfigError", err)
	}
	if ce.Pointer != "/apis/0/upstrem" {
		t.Fatalf("pointer %q", ce.Pointer)
	}
}

func TestWSO2Extensions(t *testing.T) {
	cfg, err := gateway.LoadConfig("../testdata/config/valid/wso2-extensions.yaml")
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
			v, err := gateway.Secret(tc.ref).Resolve(dir)
			if tc.err {
				if !errors.Is(err, gateway.ErrSecret) {
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

func wantLine(t *testing.T, f string) string {
	t.Helper()
	fh, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "# want: ") {
		t.Fatalf("%s: first line must be '# want: <expected error substring>'", f)
	}
	return strings.TrimPrefix(sc.Text(), "# want: ")
}

// Config.Files lists what a generation reads, resolved against the config.
func TestConfigFiles(t *testing.T) {
	cfg, err := gateway.LoadConfig("../testdata/config/valid/with-bundle.yaml")
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
