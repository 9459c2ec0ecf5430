package config

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/gatehouse/gatehouse/schemas"
)

// schemaBase is the $id prefix every schema in schemas/ uses.
const schemaBase = "https://gatehouse.dev/schemas/"

var (
	schemaOnce  sync.Once
	schemaCache map[string]*jsonschema.Schema
	schemaErr   error
)

// schema returns one compiled schema from schemas/, compiled once per process.
func schema(name string) (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		c := jsonschema.NewCompiler()
		entries, err := schemas.FS.ReadDir(".")
		if err != nil {
			schemaErr = err
			return
		}
		var names []string
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".schema.json") {
				continue
			}
			b, err := schemas.FS.ReadFile(e.Name())
			if err != nil {
				schemaErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				schemaErr = fmt.Errorf("schemas/%s: %w", e.Name(), err)
				return
			}
			// Schemas refer to each other by their $id, under schemaBase.
			if err := c.AddResource(schemaBase+e.Name(), doc); err != nil {
				schemaErr = fmt.Errorf("schemas/%s: %w", e.Name(), err)
				return
			}
			names = append(names, e.Name())
		}
		schemaCache = map[string]*jsonschema.Schema{}
		for _, n := range names {
			s, err := c.Compile(schemaBase + n)
			if err != nil {
				schemaErr = fmt.Errorf("schemas/%s: %w", n, err)
				return
			}
			schemaCache[n] = s
		}
	})
	if schemaErr != nil {
		return nil, schemaErr
	}
	s, ok := schemaCache[name]
	if !ok {
		return nil, fmt.Errorf("schemas/%s: no such schema", name)
	}
	return s, nil
}

// validateAgainst validates a JSON document against one of our schemas and
// turns the library's error tree into one Error per leaf, each naming
// the JSON pointer of the offending value.
func validateAgainst(schemaName, file string, js []byte) error {
	s, err := schema(schemaName)
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return Errors{{File: file, Msg: "not valid JSON: " + err.Error()}}
	}
	err = s.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return Errors{{File: file, Msg: err.Error()}}
	}
	var out Errors
	seen := map[string]bool{}
	p := message.NewPrinter(language.English)
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		ptr := pointer(e.InstanceLocation)
		msg := e.ErrorKind.LocalizedString(p)
		switch k := e.ErrorKind.(type) {
		case *kind.AdditionalProperties:
			for _, prop := range k.Properties {
				add := &Error{File: file, Pointer: ptr + "/" + escapePointer(prop), Msg: fmt.Sprintf("unknown key %q", prop)}
				if !seen[add.Error()] {
					seen[add.Error()] = true
					out = append(out, add)
				}
			}
			return
		case *kind.Required:
			msg = "missing required key(s): " + strings.Join(k.Missing, ", ")
		case *kind.Pattern:
			msg = patternMessage(k)
		}
		ce := &Error{File: file, Pointer: ptr, Msg: msg}
		if !seen[ce.Error()] {
			seen[ce.Error()] = true
			out = append(out, ce)
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pointer < out[j].Pointer })
	return out
}

func pointer(loc []string) string {
	var b strings.Builder
	for _, s := range loc {
		b.WriteByte('/')
		b.WriteString(escapePointer(s))
	}
	return b.String()
}

// patternWords says in words what each pattern of config.schema.json
// accepts: "'5 minutes' is not a duration such as 5m" rather than the regex.
// A pattern missing here is reported with the regex (schema_test.go keeps
// the table complete).
var patternWords = map[string]string{
	`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`: "a duration such as 5m, 30s, 1h30m or 500ms",
	`^(env|file):.+$`:                        "a secret reference: env:NAME or file:PATH (never a literal)",
	`^https?://`:                             "an http:// or https:// URL",
	`^[A-Za-z0-9][A-Za-z0-9._-]*$`:           "a name of letters, digits, '.', '_' and '-' (starting with a letter or digit)",
	`^[A-Za-z0-9-]+$`:                        "an HTTP header name (letters, digits and '-')",
	`^[A-Za-z0-9_-]+$`:                       "an HTTP header name (letters, digits, '_' and '-')",
	`^[A-Za-z0-9_-]+\*?$`:                    "an HTTP header name, or a prefix of one ending in '*'",
	`^[a-z0-9!#$%&'*+.^_` + "`" + `|~-]+$`:   "a lowercase HTTP header name",
	`^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$`: "a SHA-256 certificate fingerprint (64 hex digits, colons allowed)",
	`^[0-9]+(B|KiB|MiB|GiB|TiB)?$`:           "a size such as 512MiB or 2GiB",
	`^(/[^/?#]+)*/?$`:                        "a path such as /petstore/v1 (no query or fragment)",
	`^(\*|https?://[^/]+)$`:                  "an origin such as https://app.example or *",
	`-----BEGIN PUBLIC KEY-----`:             "a PEM public key (-----BEGIN PUBLIC KEY-----)",
}

func patternMessage(k *kind.Pattern) string {
	if words, ok := patternWords[k.Want]; ok {
		return fmt.Sprintf("%q is not %s", k.Got, words)
	}
	return fmt.Sprintf("%q does not match pattern %q", k.Got, k.Want)
}
