package bundles

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/gatehouse/gatehouse/schemas"
)

// More errors callers inspect with errors.Is.
var (
	// ErrData: a bundle's data does not match schemas/data.schema.json.
	ErrData = errors.New("bundle data does not match schemas/data.schema.json")
	// ErrRoots: two bundles claim overlapping roots, or a user bundle writes
	// into the base policy's package.
	ErrRoots = errors.New("bundle roots overlap")
)

// BaseRoot is the part of the data tree the embedded base policy owns. A user
// bundle may not put rules or data there: the base policy stays ours, users
// extend it through package gatehouse.custom.
const BaseRoot = "gatehouse/authz"

// Source is one bundle an engine is built from: a local directory or
// tarball, or a bundle downloaded from a bundle service.
type Source struct {
	// Name keys the bundle's revision (decision logs, /readyz): the base
	// name of a local path, the configured name of a remote bundle.
	Name string
	// Origin is the path or service resource, for errors.
	Origin string
	Bundle *bundle.Bundle
	// root is a local bundle's resolved directory, which prefixes its module
	// paths; the content hash leaves it out.
	root string
}

// ReadLocal reads a bundle directory or .tar.gz file in OPA's bundle format.
// Symlinks are resolved first, so a path swapped atomically (a symlink
// pointing at a new directory, as Kubernetes does for ConfigMaps) is read
// whole; entries whose names start with "." other than .manifest and
// .signatures.json (Kubernetes' ..data, editors' swap files) are skipped,
// and so are Rego tests (*_test.rego): they are for `opa test`, and their
// packages (gatehouse.custom_test) lie outside the bundle's roots.
func ReadLocal(p string) (*Source, error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLoad, err)
	}
	b, err := loader.NewFileLoader().
		WithRegoVersion(ast.RegoV1).
		WithCapabilities(Capabilities()).
		WithSkipBundleVerification(true).
		WithFollowSymlinks(true).
		WithFilter(skipHidden).
		AsBundle(real)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrLoad, p, err)
	}
	return &Source{Name: filepath.Base(filepath.Clean(p)), Origin: p, Bundle: b, root: real}, nil
}

// skipHidden is a loader filter: true excludes the entry.
func skipHidden(_ string, info fs.FileInfo, depth int) bool {
	name := info.Name()
	if depth == 0 {
		return false
	}
	if !info.IsDir() && strings.HasSuffix(name, "_test.rego") {
		return true
	}
	if !strings.HasPrefix(name, ".") {
		return false
	}
	return name != bundle.ManifestExt && name != bundle.SignaturesFile
}

// roots returns the bundle's manifest roots; no roots means the whole tree.
func (s *Source) roots() []string {
	if s.Bundle.Manifest.Roots == nil {
		return []string{""}
	}
	return *s.Bundle.Manifest.Roots
}

// checkSources refuses bundle sets OPA itself would refuse (overlapping
// roots) and user bundles that reach into the base policy's package.
func checkSources(srcs []*Source, base bool) error {
	for i, a := range srcs {
		for _, b := range srcs[i+1:] {
			for _, ra := range a.roots() {
				for _, rb := range b.roots() {
					if bundle.RootPathsOverlap(ra, rb) {
						return fmt.Errorf("%w: %s (root %q) and %s (root %q)", ErrRoots, a.Origin, ra, b.Origin, rb)
					}
				}
			}
		}
		if !base {
			continue
		}
		for _, m := range a.Bundle.Modules {
			if strings.HasSuffix(m.Path, "_test.rego") {
				continue
			}
			if pkg := packagePath(m.Parsed); pkg == BaseRoot || strings.HasPrefix(pkg, BaseRoot+"/") {
				return fmt.Errorf("%w: %s: %s declares package %s, which belongs to the base policy; put your rules in package gatehouse.custom",
					ErrRoots, a.Origin, m.Path, m.Parsed.Package.Path)
			}
		}
		if g, ok := a.Bundle.Data["gatehouse"].(map[string]any); ok {
			if _, ok := g["authz"]; ok {
				return fmt.Errorf("%w: %s: data under gatehouse/authz belongs to the base policy", ErrRoots, a.Origin)
			}
		}
	}
	return nil
}

// packagePath turns data.a.b into "a/b".
func packagePath(m *ast.Module) string {
	var parts []string
	for _, t := range m.Package.Path[1:] {
		s, ok := t.Value.(ast.String)
		if !ok {
			return ""
		}
		parts = append(parts, string(s))
	}
	return strings.Join(parts, "/")
}

var (
	dataSchemaOnce sync.Once
	dataSchema     *jsonschema.Schema
	dataSchemaErr  error
)

// validateData checks one bundle's data against schemas/data.schema.json.
// Bundles hold parts of the data tree, and the schema requires nothing, so
// each part is checked on its own and the error names its bundle.
func validateData(s *Source) error {
	if len(s.Bundle.Data) == 0 {
		return nil
	}
	if what := flatShape(s.Bundle.Data); what != "" {
		return errFlatShape(s.Origin, what)
	}
	dataSchemaOnce.Do(func() {
		raw, err := schemas.FS.ReadFile("data.schema.json")
		if err != nil {
			dataSchemaErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			dataSchemaErr = err
			return
		}
		const id = "https://gatehouse.dev/schemas/data.schema.json"
		c := jsonschema.NewCompiler()
		if err := c.AddResource(id, doc); err != nil {
			dataSchemaErr = err
			return
		}
		dataSchema, dataSchemaErr = c.Compile(id)
	})
	if dataSchemaErr != nil {
		return fmt.Errorf("schemas/data.schema.json: %w", dataSchemaErr)
	}
	// The schema library wants its own JSON form (json.Number for numbers):
	// one round trip per bundle per build, never per request.
	raw, err := json.Marshal(s.Bundle.Data)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrData, s.Origin, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrData, s.Origin, err)
	}
	if err := dataSchema.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return fmt.Errorf("%w: %s: %s", ErrData, s.Origin, leafErrors(ve))
		}
		return fmt.Errorf("%w: %s: %w", ErrData, s.Origin, err)
	}
	return nil
}

var printer = message.NewPrinter(language.English)

// leafErrors renders the leaves of a validation error tree as
// "/pointer: message" lines.
func leafErrors(e *jsonschema.ValidationError) string {
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		out = append(out, "/"+strings.Join(e.InstanceLocation, "/")+": "+e.ErrorKind.LocalizedString(printer))
	}
	walk(e)
	return strings.Join(out, "; ")
}

// exists reports whether p exists (for clearer errors than the loader's).
func exists(p string) error {
	if _, err := os.Stat(p); err != nil {
		return fmt.Errorf("%w: %w", ErrLoad, err)
	}
	return nil
}
