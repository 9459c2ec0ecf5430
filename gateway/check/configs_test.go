package check_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/check"
)

// loadAndBuild is `gatehouse check`.
func loadAndBuild(path string) error {
	_, err := check.File(context.Background(), path, check.Options{Build: gateway.BuildForCheck})
	return err
}

// Every file in testdata/config/invalid/ states the error it must produce in
// its first line: "# want: <substring>".
func TestInvalidConfigs(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/config/invalid/*.yaml")
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
	files, _ := filepath.Glob("../../testdata/config/valid/*.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := loadAndBuild(f); err != nil {
				t.Fatal(err)
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
