package bundles_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/gatehouse/gatehouse/bundles"
)

func tarGz(files map[string]string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, content := range files {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(content)), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(content))
	}
	_ = tw.Close()
	_ = gz.Close()
	return buf.Bytes()
}

// FuzzRemoteBundle feeds arbitrary bytes, as a bundle server could send
// them, through the reader the downloader uses and the engine's checks
// (roots, base package, data schema, compile): any input is either refused
// with one of the package's errors or yields an engine — never a panic.
func FuzzRemoteBundle(f *testing.F) {
	good := tarGz(map[string]string{
		"/.manifest":   `{"revision": "r1", "roots": ["gatehouse/custom"]}`,
		"/custom.rego": "package gatehouse.custom\n\ndeny contains {\"reason\": \"x\"} if input.request.headers.x\n",
	})
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(tarGz(map[string]string{"/data.json": `{"gatehouse": {"revocations": {"jti": []}}}`}))
	f.Add(tarGz(map[string]string{"/policy.rego": "package gatehouse.authz\n\nanonymous_allowed := true\n"}))
	f.Add(tarGz(map[string]string{"/.manifest": `{"roots": ["a", "a/b"]}`}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := bundle.NewCustomReader(bundle.NewTarballLoaderWithBaseURL(bytes.NewReader(raw), "")).
			WithRegoVersion(ast.RegoV1).
			WithCapabilities(bundles.Capabilities()).
			WithSizeLimitBytes(1 << 20).
			Read()
		if err != nil {
			return // the downloader reports it; the active bundle stays
		}
		_, err = bundles.Load(context.Background(), bundles.Options{
			Base:   true,
			Remote: []*bundles.Source{{Name: "fuzz", Origin: "fuzz", Bundle: &b}},
		})
		if err != nil && !errors.Is(err, bundles.ErrLoad) && !errors.Is(err, bundles.ErrCompile) &&
			!errors.Is(err, bundles.ErrData) && !errors.Is(err, bundles.ErrRoots) {
			t.Fatalf("unclassified error: %v", err)
		}
	})
}
