package policybody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

// MaxDepth bounds the nesting of a JSON body (objects and arrays).
const MaxDepth = 64

// Parse turns a body of kind into the policy's value: JSON as its value, a
// form as an object of arrays of strings. Credential-like member names are
// left out (Credential). An empty body is nil (input.request.body absent).
func Parse(kind Kind, raw []byte) (ast.Value, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrMalformed)
	}
	switch kind {
	case KindJSON:
		return parseJSON(raw)
	case KindForm:
		return parseForm(string(raw))
	}
	return nil, fmt.Errorf("%w: kind %d", ErrUnsupportedType, kind)
}

// parseJSON walks the tokens once, building the ast value and refusing
// duplicate member names, which encoding/json would silently resolve.
func parseJSON(raw []byte) (ast.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := jsonValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the JSON value", ErrMalformed)
	}
	return v, nil
}

func jsonValue(dec *json.Decoder, depth int) (ast.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("%w: nested deeper than %d", ErrMalformed, MaxDepth)
		}
		if t == '{' {
			return jsonObject(dec, depth+1)
		}
		if t == '[' {
			return jsonArray(dec, depth+1)
		}
		return nil, fmt.Errorf("%w: unexpected %q", ErrMalformed, t)
	case string:
		return ast.String(t), nil
	case json.Number:
		return ast.Number(t), nil
	case bool:
		return ast.Boolean(t), nil
	case nil:
		return ast.Null{}, nil
	}
	return nil, fmt.Errorf("%w: unexpected token %v", ErrMalformed, tok)
}

func jsonObject(dec *json.Decoder, depth int) (ast.Value, error) {
	obj := ast.NewObject()
	seen := map[string]struct{}{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%w: member name %v", ErrMalformed, tok)
		}
		if _, dup := seen[name]; dup {
			return nil, fmt.Errorf("%w: member %q appears twice", ErrMalformed, name)
		}
		seen[name] = struct{}{}
		v, err := jsonValue(dec, depth)
		if err != nil {
			return nil, err
		}
		if !Credential(name) {
			obj.Insert(ast.StringTerm(name), ast.NewTerm(v))
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return obj, nil
}

func jsonArray(dec *json.Decoder, depth int) (ast.Value, error) {
	var elems []*ast.Term
	for dec.More() {
		v, err := jsonValue(dec, depth)
		if err != nil {
			return nil, err
		}
		elems = append(elems, ast.NewTerm(v))
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return ast.NewArray(elems...), nil
}

// parseForm reads application/x-www-form-urlencoded with the standard
// library's rules (semicolons refused, as net/http's own form parsing
// does); names in order of first appearance.
func parseForm(s string) (ast.Value, error) {
	vals, err := url.ParseQuery(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	obj := ast.NewObjectWithCapacity(len(vals))
	for name, vs := range vals {
		if Credential(name) {
			continue
		}
		if !utf8.ValidString(name) {
			return nil, fmt.Errorf("%w: form name is not valid UTF-8", ErrMalformed)
		}
		terms := make([]*ast.Term, len(vs))
		for i, v := range vs {
			if !utf8.ValidString(v) {
				return nil, fmt.Errorf("%w: form value of %q is not valid UTF-8", ErrMalformed, name)
			}
			terms[i] = ast.StringTerm(v)
		}
		obj.Insert(ast.StringTerm(name), ast.ArrayTerm(terms...))
	}
	return obj, nil
}

// credentialParts: a member name containing one of these (any case, "-"
// and "_" alike) is taken for a credential and never given to the policy.
var credentialParts = []string{
	"password", "passwd", "passphrase", "secret", "token", "api_key", "apikey",
	"credential", "private_key", "client_assertion", "session", "cookie", "authorization",
}

// Credential reports whether a body member name looks like it carries a
// credential.
func Credential(name string) bool {
	n := strings.ReplaceAll(strings.ToLower(name), "-", "_")
	for _, p := range credentialParts {
		if strings.Contains(n, p) {
			return true
		}
	}
	return false
}
